package combine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/backupcheck"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// chainCluster is a PostgreSQL 17 cluster with a tablespace, and the directories a chain of its
// backups goes to.
type chainCluster struct {
	t      *testing.T
	src    *testcluster.Cluster
	client string // PostgreSQL 17's client programs
	work   string
	spc    string // the tablespace's location on the server
}

func newChainCluster(t *testing.T, ctx context.Context) *chainCluster {
	bin17, err := testcluster.Server17Bin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(testcluster.BinEnv, bin17)
	client, err := testcluster.PG17ClientBin()
	if err != nil {
		t.Fatal(err)
	}
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true,
		Conf: []string{"summarize_wal = on", "autovacuum = off"}})
	c := &chainCluster{t: t, src: src, client: client, work: t.TempDir()}
	c.spc = filepath.Join(filepath.Dir(src.DataDir), "spc")
	if err := src.MkdirForServer(c.spc); err != nil {
		t.Fatal(err)
	}
	return c
}

// run runs one of PostgreSQL 17's client programs against the cluster.
func (c *chainCluster) run(ctx context.Context, prog string, args ...string) string {
	c.t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(c.client, prog), args...)
	cmd.Env = c.src.ClientEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// backup takes backup name with PostgreSQL 17's pg_basebackup, plain, incremental from the
// backup prior when it is not "", the tablespace mapped to <name>_spc. It returns the directory.
func (c *chainCluster) backup(ctx context.Context, name, prior string) string {
	dir := filepath.Join(c.work, name)
	args := []string{"-D", dir, "-Fp", "-X", "stream", "-c", "fast", "-T", c.spc + "=" + dir + "_spc"}
	if prior != "" {
		args = append(args, "--incremental="+filepath.Join(prior, manifestName))
	}
	c.run(ctx, "pg_basebackup", args...)
	return dir
}

// exec runs each statement of sql (one a line, ending with ";") on its own: VACUUM and CREATE
// DATABASE refuse the transaction a multi-statement query runs in.
func (c *chainCluster) exec(ctx context.Context, sql string) {
	c.t.Helper()
	for _, stmt := range strings.Split(strings.TrimSpace(sql), ";\n") {
		if err := c.src.Exec(ctx, stmt); err != nil {
			c.t.Fatal(err)
		}
	}
}

// The chain's data: each step's changes run between two backups. The setup's VACUUM leaves the
// pages all-visible, so that a later VACUUM touches only the pages whose rows changed and the
// tables stay incremental (more than 90% of a file's pages changed sends it whole).
const (
	chainSetup = `
CREATE TABLE grow (id int PRIMARY KEY, pad text);
INSERT INTO grow SELECT g, repeat('g', 200) FROM generate_series(1, 20000) g;
CREATE TABLE shrink (id int, pad text);
INSERT INTO shrink SELECT g, repeat('s', 200) FROM generate_series(1, 20000) g;
CREATE TABLE refill (id int, pad text);
INSERT INTO refill SELECT g, repeat('r', 100) FROM generate_series(1, 5000) g;
CREATE TABLE dropped (id int, pad text);
INSERT INTO dropped SELECT g, 'd' FROM generate_series(1, 5000) g;
CREATE TABLE in_spc (id int PRIMARY KEY, pad text) TABLESPACE spc;
INSERT INTO in_spc SELECT g, repeat('t', 200) FROM generate_series(1, 10000) g;
VACUUM;
CHECKPOINT;`
	chainStep1 = `
INSERT INTO grow SELECT g, repeat('h', 200) FROM generate_series(20001, 20100) g;
UPDATE grow SET pad = 'updated' WHERE id % 1000 = 0;
DELETE FROM shrink WHERE id > 10000;
VACUUM shrink;
TRUNCATE refill;
INSERT INTO refill SELECT g, repeat('R', 100) FROM generate_series(1, 3000) g;
DROP TABLE dropped;
CREATE TABLE created (id int, pad text);
INSERT INTO created SELECT g, 'c' FROM generate_series(1, 1000) g;
UPDATE in_spc SET pad = 'u' WHERE id % 500 = 0;`
	chainStep2 = `
INSERT INTO grow SELECT g, repeat('i', 200) FROM generate_series(20101, 20200) g;
UPDATE shrink SET pad = 'second' WHERE id % 100 = 0;
INSERT INTO shrink SELECT g, 'back' FROM generate_series(30001, 30050) g;
INSERT INTO created SELECT g, 'd' FROM generate_series(1001, 1500) g;
DELETE FROM in_spc WHERE id > 5000;
VACUUM in_spc;`
	db2Setup = `CREATE TABLE t2 (id int PRIMARY KEY, pad text);
INSERT INTO t2 SELECT g, repeat('2', 300) FROM generate_series(1, 3000) g;`
	db2Step2 = `UPDATE t2 SET pad = 'x' WHERE id % 10 = 0;`
)

// TestCombineMatchesPgCombinebackup takes a full and two incremental backups with PostgreSQL
// 17's pg_basebackup, with inserts, updates, a table shrunk by VACUUM, a TRUNCATE and refill, a
// DROP and a CREATE TABLE, a CREATE DATABASE and a tablespace between them; rebuilds the chain
// with Combine and with pg_combinebackup; and checks that both rebuilt the same files byte for
// byte, that pgpull verify and pg_verifybackup accept Combine's output, and that it starts and
// holds the primary's rows.
func TestCombineMatchesPgCombinebackup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := newChainCluster(t, ctx)
	c.exec(ctx, "CREATE TABLESPACE spc LOCATION '"+c.spc+"'")
	c.exec(ctx, chainSetup)
	b0 := c.backup(ctx, "b0", "")
	c.exec(ctx, chainStep1)
	c.exec(ctx, "CREATE DATABASE db2")
	c.execIn(ctx, "db2", db2Setup)
	b1 := c.backup(ctx, "b1", b0)
	c.exec(ctx, chainStep2)
	c.execIn(ctx, "db2", db2Step2)
	b2 := c.backup(ctx, "b2", b1)
	checkChainExercised(t, c, b0, b1, b2)

	ours, ourSpc := filepath.Join(c.work, "ours"), filepath.Join(c.work, "ours_spc")
	oid := tablespaceOID(t, b2)
	if err := Combine([]string{b0, b1, b2}, ours, Options{Tablespaces: map[string]string{oid: ourSpc}}); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(c.work, "theirs")
	c.run(ctx, "pg_combinebackup", "-o", theirs, "-T", b2+"_spc="+filepath.Join(c.work, "theirs_spc"), b0, b1, b2)
	compareOutputs(t, ours, theirs)

	rep, err := backupcheck.Checker{Readers: 1}.VerifyPath(ctx, ours)
	if err != nil || !rep.Whole() {
		t.Fatalf("pgpull verify: %v %+v", err, rep)
	}
	c.run(ctx, "pg_verifybackup", "-n", ours)
	if _, err := os.Stat(filepath.Join(ours, incompleteMarker)); err == nil {
		t.Fatalf("the output still holds %s", incompleteMarker)
	}

	want := tableContents(t, ctx, c.src)
	restored := testcluster.AdoptForTest(t, ours)
	if got := tableContents(t, ctx, restored); !mapsEqual(got, want) {
		t.Fatalf("the rebuilt cluster's tables differ from the primary's:\n got %v\nwant %v", got, want)
	}
}

func (c *chainCluster) execIn(ctx context.Context, db, sql string) {
	c.t.Helper()
	c.run(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql)
}

// tablespaceOID is the OID of the one tablespace a backup links to.
func tablespaceOID(t *testing.T, backup string) string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(backup, "pg_tblspc"))
	if err != nil || len(des) != 1 {
		t.Fatalf("pg_tblspc of %s: %v, %d entries; want one tablespace", backup, err, len(des))
	}
	return des[0].Name()
}

// checkChainExercised checks that the chain holds what the test is about: INCREMENTAL files with
// pages in both incrementals (in the tablespace too), and the shrunk table's segment as an
// INCREMENTAL file in b1 whose truncation length is below its length in b0.
func checkChainExercised(t *testing.T, c *chainCluster, b0, b1, b2 string) {
	t.Helper()
	for _, b := range []string{b1, b2} {
		withPages, inSpc := 0, 0
		for rel, h := range incrementalHeaders(t, b) {
			if len(h.Blocks) > 0 {
				withPages++
			}
			if strings.HasPrefix(rel, "pg_tblspc/") {
				inSpc++
			}
		}
		if withPages < 3 || inSpc == 0 {
			t.Fatalf("%s holds %d INCREMENTAL files with pages and %d in the tablespace; the test needs them", b, withPages, inSpc)
		}
	}
	rel, err := c.src.QueryString(context.Background(), `SELECT pg_relation_filepath('shrink')`)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(b0, rel))
	if err != nil {
		t.Fatal(err)
	}
	dir, name := filepath.Split(rel)
	h, err := readIncrementalHeader(filepath.Join(b1, dir, pgformat.IncrementalPrefix+name))
	if err != nil {
		t.Fatalf("the shrunk table in b1: %v", err)
	}
	if int64(h.TruncationBlockLength)*pgformat.BlockSize >= fi.Size() {
		t.Fatalf("the shrunk table's truncation length in b1 is %d blocks, not below its %d bytes in b0", h.TruncationBlockLength, fi.Size())
	}
}
