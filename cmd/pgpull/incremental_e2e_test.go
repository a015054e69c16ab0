package main

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/pgpull/pgpull/sinks"

	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/s3store"

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
	summaryPath := filepath.Join(base, "inc1.json")
	inc1, inc1Wire := backup("inc1", "--incremental-from", full, "-T", tsLive+"="+filepath.Join(base, "inc1-ts"), "--summary", summaryPath)
	checkIncrementalSummary(t, summaryPath, src.Major)

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
		{"chain missing a link", "but the backup before it", []string{"combine", full, inc2, "-o", filepath.Join(base, "x4")}},
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

// TestIncrementalForms: an incremental backup goes to every DEST form and follows a prior in S3;
// each verifies, and each, extracted as a plain directory, combines with the full backup into a
// copy that starts with the primary's rows.
func TestIncrementalForms(t *testing.T) {
	srv := s3Store(t)
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if out, err := src.Pgbench(context.Background(), "-i", "-q", "-s", "2").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	base := t.TempDir()
	// The prior is in S3 where its manifest names its cluster (17+); before 17 a version 1
	// manifest does not, and the prior must be a directory, whose pg_control does.
	full := filepath.Join(base, "full")
	fullLoc := full
	if src.Major >= 17 {
		fullLoc = "s3://" + s3Bucket + "/full"
	}
	if code, stderr := pgpull(t, nil, "backup", "-F", "tar", "-c", "fast", "--s3-endpoint", srv.Endpoint(), src.DSN(), "s3://"+s3Bucket+"/full"); code != 0 {
		t.Fatalf("full backup to S3 failed (%d): %s", code, stderr)
	}
	s3Extract(t, s3Open(t, srv.Endpoint(), "s3://"+s3Bucket+"/full"), "base.tar", full)
	s3Copy(t, s3Open(t, srv.Endpoint(), "s3://"+s3Bucket+"/full"), "backup_manifest", filepath.Join(full, "backup_manifest"))
	if src.Major < 17 {
		code, stderr := runCLI(t, nil, "backup", "-c", "fast", "--s3-endpoint", srv.Endpoint(), "--incremental-from", "s3://"+s3Bucket+"/full", src.DSN(), filepath.Join(base, "refused"))
		if code == 0 || !strings.Contains(stderr, "give the prior backup's directory") {
			t.Errorf("incremental on an S3 prior of PostgreSQL %d: exit %d, %q; want a refusal that names the way", src.Major, code, stderr)
		}
	}
	runPgbench(t, src, 100)
	want := tableDigests(t, src)

	incremental := []string{"backup", "-c", "fast", "--s3-endpoint", srv.Endpoint(), "--incremental-from", fullLoc}
	stream := filepath.Join(base, "inc.tar.zst")
	out, err := os.Create(stream)
	if err != nil {
		t.Fatal(err)
	}
	code, stderr := pgpull(t, out, append(incremental, "-Z", "zstd", src.DSN(), "-")...)
	out.Close()
	if code != 0 {
		t.Fatalf("incremental to a stream failed (%d): %s", code, stderr)
	}
	tarDir, incLoc := filepath.Join(base, "inc-tar"), "s3://"+s3Bucket+"/inc"
	for _, dest := range []string{tarDir, incLoc} {
		if code, stderr := pgpull(t, nil, append(incremental, "-F", "tar", src.DSN(), dest)...); code != 0 {
			t.Fatalf("incremental to %s failed (%d): %s", dest, code, stderr)
		}
	}
	for _, loc := range []string{stream, tarDir, incLoc} {
		if code, stderr := pgpull(t, nil, "verify", "--s3-endpoint", srv.Endpoint(), loc); code != 0 {
			t.Errorf("pgpull verify %s: exit %d: %s", loc, code, stderr)
		}
	}

	extracted := map[string]string{"stream": filepath.Join(base, "x-stream"), "tar": filepath.Join(base, "x-tar"), "s3": filepath.Join(base, "x-s3")}
	zr := openZstd(t, stream)
	if err := testcluster.ExtractTar(zr, extracted["stream"]); err != nil {
		t.Fatal(err)
	}
	extract(t, filepath.Join(tarDir, "base.tar"), extracted["tar"])
	copyFile(t, filepath.Join(tarDir, "backup_manifest"), filepath.Join(extracted["tar"], "backup_manifest"))
	s3Extract(t, s3Open(t, srv.Endpoint(), incLoc), "base.tar", extracted["s3"])
	s3Copy(t, s3Open(t, srv.Endpoint(), incLoc), "backup_manifest", filepath.Join(extracted["s3"], "backup_manifest"))
	for form, dir := range extracted {
		if !hasIncrementalFiles(t, dir) {
			t.Errorf("%s: no INCREMENTAL file with pages", form)
		}
		rebuilt := filepath.Join(base, "rebuilt-"+form)
		if code, stderr := pgpull(t, nil, "combine", full, dir, "-o", rebuilt); code != 0 {
			t.Fatalf("combine of the %s form failed (%d): %s", form, code, stderr)
		}
		if form == "stream" {
			r := testcluster.AdoptForTest(t, rebuilt)
			sameTables(t, "combined from a stream", tableDigests(t, r), want)
		} else if code, stderr := pgpull(t, nil, "verify", rebuilt); code != 0 {
			t.Errorf("pgpull verify of the %s form's rebuilt copy: exit %d: %s", form, code, stderr)
		}
	}
}

// s3Copy downloads object name to path.
func s3Copy(t *testing.T, st *s3store.Store, name, path string) {
	t.Helper()
	body, err := st.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err == nil {
		err = os.WriteFile(path, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// openZstd opens a zstd-compressed file for reading, closed at test end.
func openZstd(t *testing.T, path string) io.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	zr, _, err := compress.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zr.Close() })
	return zr
}

// checkIncrementalSummary holds --summary's incremental object to what the run did: the method
// the server's major offers, and fewer blocks sent than looked at.
func checkIncrementalSummary(t *testing.T, path string, major int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Incremental *incrementalSummary `json:"incremental"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	inc := s.Incremental
	if inc == nil {
		t.Fatalf("--summary of an incremental backup has no incremental object:\n%s", b)
	}
	want := "page LSNs"
	if major >= 17 {
		want = "WAL summaries"
	}
	if !strings.HasPrefix(inc.Method, want) || inc.BlocksSent <= 0 || inc.BlocksSent >= inc.BlocksExamined/5 ||
		inc.FilesIncremental == 0 || inc.FilesWhole == 0 {
		t.Errorf("--summary's incremental object %+v: want method %q, some blocks sent but under a fifth of those examined, files of both kinds", *inc, want)
	}
}

// TestIncrementalKilled: an incremental backup killed mid-copy leaves a directory that neither
// pgpull verify nor pgpull combine takes for a backup.
func TestIncrementalKilled(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if out, err := src.Pgbench(context.Background(), "-i", "-q", "-s", "3").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	base := t.TempDir()
	full := filepath.Join(base, "full")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", src.DSN(), full); code != 0 {
		t.Fatalf("full backup failed (%d): %s", code, stderr)
	}
	// Every account changes: the incremental is as large as the table, and slow under -r.
	mustExec(t, src, `UPDATE pgbench_accounts SET abalance = abalance + 1`)
	inc := filepath.Join(base, "inc")
	killWhen(t, buildPgpull(t), func() bool { return treeBytes(t, inc) >= 8<<20 },
		"backup", "-c", "fast", "-r", "4M", "--incremental-from", full, src.DSN(), inc)
	if code, stderr := runCLI(t, nil, "verify", inc); code == 0 {
		t.Errorf("pgpull verify passed a killed incremental backup: %s", stderr)
	}
	code, stderr := runCLI(t, nil, "combine", full, inc, "-o", filepath.Join(base, "rebuilt"))
	if code == 0 || !strings.Contains(stderr, sinks.IncompleteMarker) {
		t.Errorf("pgpull combine of a killed incremental: exit %d, %q; want a refusal naming %s", code, stderr, sinks.IncompleteMarker)
	}
	checkServerClean(t, src)
}

// TestIncrementalAcrossTimelines: an incremental backup of a promoted standby on a prior taken
// on the primary before the switch is one of that server's past, and restores; a prior the old
// primary took after the switch is of another history, and is refused.
func TestIncrementalAcrossTimelines(t *testing.T) {
	ctx := context.Background()
	primary := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if primary.Major >= 17 {
		summarizeWAL(t, primary)
	}
	mustExec(t, primary, `CREATE TABLE kept AS SELECT g FROM generate_series(1, 5000) g`)
	base := t.TempDir()
	before := filepath.Join(base, "before")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", primary.DSN(), before); code != 0 {
		t.Fatalf("backup before the switch failed (%d): %s", code, stderr)
	}
	standby := testcluster.StandbyForTest(t, primary)
	mustExec(t, primary, `INSERT INTO kept SELECT g FROM generate_series(5001, 6000) g`)
	if err := standby.WaitCaughtUp(ctx, primary); err != nil {
		t.Fatal(err)
	}
	mustExec(t, standby, `SELECT pg_promote()`)
	mustExec(t, primary, `INSERT INTO kept SELECT g FROM generate_series(6001, 7000) g`, `CHECKPOINT`)
	after := filepath.Join(base, "after")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", primary.DSN(), after); code != 0 {
		t.Fatalf("backup of the old primary after the switch failed (%d): %s", code, stderr)
	}
	mustExec(t, standby, `INSERT INTO kept SELECT g FROM generate_series(7001, 7500) g`)

	code, stderr := runCLI(t, nil, "backup", "-c", "fast", "--incremental-from", after, standby.DSN(), filepath.Join(base, "refused"))
	if code == 0 || !strings.Contains(stderr, "not a backup of this server's past") {
		t.Errorf("incremental on a prior of another history: exit %d, %q; want a refusal", code, stderr)
	}
	checkOneLine(t, stderr)
	if _, err := os.Stat(filepath.Join(base, "refused")); !os.IsNotExist(err) {
		t.Errorf("the refused incremental left its DEST behind (%v)", err)
	}
	checkServerClean(t, standby)

	inc := filepath.Join(base, "inc")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", "--incremental-from", before, standby.DSN(), inc); code != 0 {
		t.Fatalf("incremental across the switch failed (%d): %s", code, stderr)
	}
	want := tableDigests(t, standby)
	rebuilt := filepath.Join(base, "rebuilt")
	if code, stderr := pgpull(t, nil, "combine", before, inc, "-o", rebuilt); code != 0 {
		t.Fatalf("combine failed (%d): %s", code, stderr)
	}
	sameTables(t, "rebuilt across the switch", tableDigests(t, testcluster.AdoptForTest(t, rebuilt)), want)
}

// TestIncrementalWithHelper: with the helper `pgpull grants --incremental` installs, a role that
// holds only the grants finds the changed pages through it, and the chain restores.
func TestIncrementalWithHelper(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if out, err := src.Pgbench(ctx, "-i", "-q", "-s", "2").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	mustExec(t, src, `CREATE ROLE inc LOGIN`)
	var grants bytes.Buffer
	if code, stderr := runCLI(t, &grants, "grants", "--incremental", src.DSN(), "inc"); code != 0 {
		t.Fatalf("pgpull grants --incremental failed (%d): %s", code, stderr)
	}
	psql := src.Psql(ctx)
	psql.Stdin = strings.NewReader(grants.String())
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql < grants --incremental: %v\n%s", err, out)
	}
	base := t.TempDir()
	full := filepath.Join(base, "full")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", roleDSN(src, "inc"), full); code != 0 {
		t.Fatalf("full backup failed (%d): %s", code, stderr)
	}
	runPgbench(t, src, 200)
	inc, summary := filepath.Join(base, "inc"), filepath.Join(base, "summary.json")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", "--summary", summary, "--incremental-from", full, roleDSN(src, "inc"), inc); code != 0 {
		t.Fatalf("incremental backup failed (%d): %s", code, stderr)
	}
	b, err := os.ReadFile(summary)
	if err != nil || !strings.Contains(string(b), `"method":"page LSNs (PL/Python helper)"`) {
		t.Errorf("summary %s (%v); want the helper's method", b, err)
	}
	want := tableDigests(t, src)
	rebuilt := filepath.Join(base, "rebuilt")
	if code, stderr := pgpull(t, nil, "combine", full, inc, "-o", rebuilt); code != 0 {
		t.Fatalf("combine failed (%d): %s", code, stderr)
	}
	sameTables(t, "rebuilt through the helper", tableDigests(t, testcluster.AdoptForTest(t, rebuilt)), want)
}
