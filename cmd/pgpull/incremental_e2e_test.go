package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestIncrementalChain takes a full backup and two incremental ones over SQL with, between them,
// the changes an incremental backup must not get wrong: TPC-B load, a table shrunk by VACUUM and
// grown again, DROP TABLE, TRUNCATE and refill, CREATE TABLE, VACUUM FULL, CREATE DATABASE and a
// new tablespace. The chain, rebuilt by pgpull combine (and on 17 by pg_combinebackup), starts
// with every table as the primary has it; each incremental moves under a tenth of the full
// backup's bytes, counted on the wire.
func TestIncrementalChain(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if src.Major >= 17 {
		summarizeWAL(t, src)
	}
	if out, err := src.Pgbench(ctx, "-i", "-q", "-s", "15").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	addUnlogged(t, src)
	mustExec(t, src,
		`CREATE TABLE shrinking AS SELECT g, repeat('s', 200) AS pad FROM generate_series(1, 20000) g`,
		`CREATE TABLE dropped AS SELECT g FROM generate_series(1, 1000) g`,
		`CREATE TABLE truncated AS SELECT g, md5(g::text) FROM generate_series(1, 5000) g`,
		`CREATE TABLE rewritten AS SELECT g, md5(g::text) FROM generate_series(1, 5000) g`)
	dsn, proxy := countingDSN(t, src)
	base := t.TempDir()
	tsLive := filepath.Join(base, "ts-live")
	if err := src.MkdirForServer(tsLive); err != nil {
		t.Fatal(err)
	}

	backup := func(name string, args ...string) (dir string, wire int64) {
		t.Helper()
		dir = filepath.Join(base, name)
		before := proxy.ToClients()
		args = append([]string{"backup", "-c", "fast", "-v"}, args...)
		if code, stderr := pgpull(t, nil, append(args, dsn, dir)...); code != 0 {
			t.Fatalf("pgpull %s failed (%d): %s", strings.Join(args, " "), code, stderr)
		}
		return dir, proxy.ToClients() - before
	}
	full, fullWire := backup("full")

	runPgbench(t, src, 300)
	mustExec(t, src,
		`DELETE FROM shrinking WHERE g > 10000`, `VACUUM shrinking`,
		`DROP TABLE dropped`,
		`TRUNCATE truncated`, `INSERT INTO truncated SELECT g, md5((g * 7)::text) FROM generate_series(1, 3000) g`,
		`CREATE TABLE created AS SELECT g, md5(g::text) FROM generate_series(1, 2000) g`,
		`CREATE TABLESPACE ts1 LOCATION '`+tsLive+`'`,
		`CREATE TABLE spaced TABLESPACE ts1 AS SELECT g, repeat('t', 50) AS pad FROM generate_series(1, 3000) g`)
	inc1, inc1Wire := backup("inc1", "--incremental-from", full, "-T", tsLive+"="+filepath.Join(base, "inc1-ts"))

	runPgbench(t, src, 300)
	mustExec(t, src,
		`INSERT INTO shrinking SELECT g, repeat('r', 200) FROM generate_series(20001, 26000) g`,
		`VACUUM FULL rewritten`,
		`CREATE DATABASE later`,
		`UPDATE spaced SET pad = 'u' WHERE g <= 10`)
	inc2, inc2Wire := backup("inc2", "--incremental-from", inc1, "-T", tsLive+"="+filepath.Join(base, "inc2-ts"))

	for _, inc := range []struct {
		name string
		dir  string
		wire int64
	}{{"inc1", inc1, inc1Wire}, {"inc2", inc2, inc2Wire}} {
		// WAL included on both sides: the last segment travels only up to the stop point, so what
		// its file holds says little of what crossed the wire.
		share := float64(inc.wire) / float64(fullWire)
		t.Logf("%s: %d bytes on the wire, the full backup %d: %.1f%%", inc.name, inc.wire, fullWire, 100*share)
		if share >= 0.10 {
			t.Errorf("%s moved %.1f%% of the full backup's bytes on the wire; want under 10%%", inc.name, 100*share)
		}
		if !hasIncrementalFiles(t, inc.dir) {
			t.Errorf("%s holds no INCREMENTAL files: it is no incremental backup", inc.name)
		}
		if code, stderr := pgpull(t, nil, "verify", inc.dir); code != 0 {
			t.Errorf("pgpull verify %s: exit %d: %s", inc.name, code, stderr)
		}
	}
	want := tableDigests(t, src)

	rebuilt := filepath.Join(base, "rebuilt")
	if code, stderr := pgpull(t, nil, "combine", "-T", filepath.Join(base, "inc2-ts")+"="+filepath.Join(base, "rebuilt-ts"),
		full, inc1, inc2, "-o", rebuilt); code != 0 {
		t.Fatalf("pgpull combine failed (%d): %s", code, stderr)
	}
	if code, stderr := pgpull(t, nil, "verify", rebuilt); code != 0 {
		t.Errorf("pgpull verify of the rebuilt backup: exit %d: %s", code, stderr)
	}
	r := testcluster.AdoptForTest(t, rebuilt)
	checkRestored(t, r)
	sameTables(t, "pgpull combine", tableDigests(t, r), want)

	if src.Major == 17 {
		theirs := filepath.Join(base, "pg-combined")
		pgCombine(t, src, theirs, "-T", filepath.Join(base, "inc2-ts")+"="+filepath.Join(base, "pg-combined-ts"), full, inc1, inc2)
		r17 := testcluster.AdoptForTest(t, theirs)
		checkRestored(t, r17)
		sameTables(t, "pg_combinebackup", tableDigests(t, r17), want)
	}
}

// TestIncrementalRefusals: a prior of another cluster, an edited manifest and a broken chain are
// each refused in one line, with nothing written that could pass for a backup.
func TestIncrementalRefusals(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	other := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	base := t.TempDir()
	full := filepath.Join(base, "full")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", src.DSN(), full); code != 0 {
		t.Fatalf("full backup failed (%d): %s", code, stderr)
	}
	mustExec(t, src, `CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g`)
	inc1 := filepath.Join(base, "inc1")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", "--incremental-from", full, src.DSN(), inc1); code != 0 {
		t.Fatalf("incremental backup failed (%d): %s", code, stderr)
	}
	mustExec(t, src, `INSERT INTO t SELECT g FROM generate_series(1, 1000) g`)
	inc2 := filepath.Join(base, "inc2")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", "--incremental-from", inc1, src.DSN(), inc2); code != 0 {
		t.Fatalf("second incremental backup failed (%d): %s", code, stderr)
	}
	edited := filepath.Join(base, "edited_manifest")
	m, err := os.ReadFile(filepath.Join(full, "backup_manifest"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(edited, []byte(strings.Replace(string(m), `"Size": `, `"Size": 1`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, want string
		args       []string
	}{
		{"prior of another cluster", "same cluster", []string{"backup", "-c", "fast", "--incremental-from", full, other.DSN(), filepath.Join(base, "x1")}},
		{"edited manifest", "checksum", []string{"backup", "-c", "fast", "--incremental-from", edited, src.DSN(), filepath.Join(base, "x2")}},
		{"prior that is no backup", "backup_manifest", []string{"backup", "-c", "fast", "--incremental-from", base, src.DSN(), filepath.Join(base, "x3")}},
		{"chain missing a link", "INCREMENTAL FROM", []string{"combine", full, inc2, "-o", filepath.Join(base, "x4")}},
		{"chain without its full backup", "full", []string{"combine", inc1, inc2, "-o", filepath.Join(base, "x5")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runCLI(t, nil, tt.args...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, %q; want a refusal mentioning %q", code, stderr, tt.want)
			}
			checkOneLine(t, stderr)
			out := tt.args[len(tt.args)-1]
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("refused %s left %s behind (%v)", tt.args[0], out, err)
			}
		})
	}
	checkServerClean(t, src)
	checkServerClean(t, other)
}

// pgCombine rebuilds a chain with PostgreSQL 17's pg_combinebackup.
func pgCombine(t *testing.T, c *testcluster.Cluster, out string, args ...string) {
	t.Helper()
	bin, err := testcluster.PG17ClientBin()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "pg_combinebackup"), append(args, "-o", out)...)
	cmd.Env = c.ClientEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_combinebackup: %v\n%s", err, b)
	}
}

// tableDigests is each table of every database but the templates: its row count and a hash of
// its rows, order aside.
func tableDigests(t *testing.T, c *testcluster.Cluster) map[string]string {
	t.Helper()
	ctx := context.Background()
	dbs, err := c.QueryString(ctx, `SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database WHERE NOT datistemplate`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, db := range strings.Fields(dbs) {
		conn, err := c.ConnectDB(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		rows, err := conn.Query(ctx, `SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
		if err == nil {
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					t.Fatal(err)
				}
				tables = append(tables, name)
			}
			err = rows.Err()
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range tables {
			var n int64
			var sum *string
			q := fmt.Sprintf(`SELECT count(*), md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))) FROM %s x`, table)
			if err := conn.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
				t.Fatalf("%s in %s: %v", table, db, err)
			}
			out[db+"/"+table] = fmt.Sprintf("%d rows, %v", n, deref(sum))
		}
		conn.Close(ctx)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return "(none)"
	}
	return *s
}

// sameTables fails t on each table whose digest differs from the primary's.
func sameTables(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if strings.HasSuffix(name, ".scratch") {
			continue // unlogged: empty after recovery
		}
		if got[name] != w {
			t.Errorf("%s: table %s: %s, want the primary's %s", what, name, got[name], w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: table %s, which the primary no longer has", what, name)
		}
	}
}

// hasIncrementalFiles reports whether a backup holds an INCREMENTAL file with pages.
func hasIncrementalFiles(t *testing.T, dir string) bool {
	t.Helper()
	found := false
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), "INCREMENTAL.") && fi.Size() > 8192 {
			found = true
		}
		return nil
	})
	return found
}
