package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
	"github.com/pgpull/pgpull/sinks"
)

// countingDSN puts a byte-counting proxy in front of c: what a run moves is counted on the wire,
// not taken from pgpull's own report.
func countingDSN(t *testing.T, c *testcluster.Cluster) (string, *stallProxy) {
	t.Helper()
	proxy := startStallProxy(t, fmt.Sprintf("127.0.0.1:%d", c.Port), "no connection is stalled", -1)
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", proxy.Port()), proxy
}

// runPgbench runs n transactions of TPC-B and fails t unless they all ran.
func runPgbench(t *testing.T, c *testcluster.Cluster, n int) {
	t.Helper()
	out, err := c.Pgbench(context.Background(), "-c", "2", "-j", "2", "-t", strconv.Itoa(n/2), "-n").CombinedOutput()
	if err != nil {
		t.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`number of transactions actually processed: (\d+)`).FindSubmatch(out)
	if m == nil || string(m[1]) != strconv.Itoa(n/2*2) {
		t.Fatalf("pgbench did not run its %d transactions:\n%s", n, out)
	}
}

func mustExec(t *testing.T, c *testcluster.Cluster, sqls ...string) {
	t.Helper()
	for _, sql := range sqls {
		if err := c.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// checkVerifies holds a plain backup of a server of major to pg_verifybackup (as far as version
// 15's reads that major's backups) and to pgpull verify.
func checkVerifies(t *testing.T, major int, dir string) {
	t.Helper()
	if r := pgpullVerify(t, nil, dir); r.code != 0 {
		t.Errorf("pgpull verify refused %s (%d): %s%s", dir, r.code, r.stdout, r.stderr)
	}
	args, why := verifybackupArgs(major)
	if args == nil {
		t.Log(why)
		return
	}
	bindir, err := testcluster.ClientBindir()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(bindir, "pg_verifybackup"), append(args, dir)...).CombinedOutput(); err != nil {
		t.Errorf("pg_verifybackup %s: %v\n%s", dir, err, out)
	}
}

// TestRefresh refreshes a plain backup after everything that changes a cluster's files between
// two backups, under pgbench load, and checks that the result restores consistent, passes
// pg_verifybackup and that the refresh moved a fraction of a full backup's bytes on the wire.
func TestRefresh(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	dsn, proxy := countingDSN(t, src)
	if out, err := src.Pgbench(ctx, "-i", "-q", "-s", "10").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	addUnlogged(t, src)
	mustExec(t, src,
		`CREATE TABLE rewritten AS SELECT g, md5(g::text) AS m FROM generate_series(1, 100000) g`,
		`CREATE TABLE dropped AS SELECT g FROM generate_series(1, 100000) g`,
		`CREATE TABLE shrunk AS SELECT g, md5(g::text) AS m FROM generate_series(1, 200000) g`)
	base := t.TempDir()
	dest := filepath.Join(base, "copy")

	code, stderr := pgpull(t, nil, "backup", "-c", "fast", dsn, dest)
	if code != 0 {
		t.Fatalf("first backup failed (%d): %s", code, stderr)
	}
	full := proxy.ToClients()

	// Between the two backups: load, a rewritten table (new relfilenode), a dropped one, one
	// truncated by VACUUM, a new database, a new tablespace, and a server restart.
	runPgbench(t, src, 2000)
	rewrittenOld, droppedPath := relationPath(t, src, "rewritten"), relationPath(t, src, "dropped")
	mustExec(t, src, `VACUUM FULL rewritten`, `DROP TABLE dropped`,
		`DELETE FROM shrunk WHERE g > 1000`, `VACUUM shrunk`, `CREATE DATABASE fresh`)
	if relationPath(t, src, "rewritten") == rewrittenOld {
		t.Fatal("VACUUM FULL kept the relfilenode; the test would not cover a rewritten table")
	}
	live := filepath.Join(base, "ts-live")
	if err := src.MkdirForServer(live); err != nil {
		t.Fatal(err)
	}
	mustExec(t, src, `CREATE TABLESPACE ts2 LOCATION '`+live+`'`,
		`CREATE TABLE spaced TABLESPACE ts2 AS SELECT g FROM generate_series(1, 50000) g`)
	if err := src.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	shrunkPath := relationPath(t, src, "shrunk")
	shrunkSize, err := src.QueryInt(ctx, `SELECT pg_relation_size('shrunk')`)
	if err != nil {
		t.Fatal(err)
	}

	load := startLoad(t, src)
	before := proxy.ToClients()
	summaryFile := filepath.Join(base, "summary.json")
	code, stderr = pgpull(t, nil, "backup", "--refresh", "-v", "-c", "fast", "--summary", summaryFile,
		"-T", live+"="+filepath.Join(base, "ts-copy"), dsn, dest)
	load.stop(t)
	if code != 0 {
		t.Fatalf("refresh failed (%d): %s", code, stderr)
	}
	refresh := proxy.ToClients() - before
	t.Logf("on the wire: full backup %d bytes, refresh %d bytes (%.1f%%)", full, refresh, 100*float64(refresh)/float64(full))
	// At most half: the load running during the refresh dirties pages as fast as the machine
	// lets it (on an idle 2-core machine 5400 transactions made the refresh move 39%; at load 15,
	// 29%), and the WAL it writes is copied whole.
	if refresh*2 > full {
		t.Errorf("the refresh moved %d bytes, a full backup %d: want at most half", refresh, full)
	}

	// pgpull's own report, held to the wire and to what the test removed.
	var sum struct {
		Refresh struct {
			Compared int64 `json:"compared_bytes"`
			Moved    int64 `json:"moved_bytes"`
			Removed  int64 `json:"removed_files"`
		} `json:"refresh"`
	}
	if body, err := os.ReadFile(summaryFile); err != nil || json.Unmarshal(body, &sum) != nil {
		t.Fatalf("--summary: %v\n%s", err, body)
	}
	if r := sum.Refresh; r.Compared <= 0 || r.Moved <= 0 || r.Moved > refresh || r.Removed < 3 {
		t.Errorf("summary: %d bytes compared, %d moved, %d files removed; want both counts above 0, the moved ones at most the %d on the wire, "+
			"at least 3 files removed (the dropped table, the rewritten table's old file, the earlier WAL)", r.Compared, r.Moved, r.Removed, refresh)
	}

	for _, gone := range []string{rewrittenOld, droppedPath, sinks.IncompleteMarker} {
		if exists(filepath.Join(dest, gone)) {
			t.Errorf("%s is still in the refreshed copy", gone)
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, shrunkPath)); err != nil || fi.Size() != shrunkSize {
		t.Errorf("truncated relation %s in the copy: %v, %v; want %d bytes", shrunkPath, fi, err, shrunkSize)
	}
	checkVerifies(t, src.Major, dest)
	r := testcluster.AdoptForTest(t, dest)
	checkRestored(t, r)
	for _, q := range []struct {
		sql  string
		want int64
	}{
		{`SELECT count(*) FROM rewritten`, 100000},
		{`SELECT count(*) FROM shrunk`, 1000},
		{`SELECT count(*) FROM spaced`, 50000},
		{`SELECT count(*) FROM pg_database WHERE datname = 'fresh'`, 1},
		{`SELECT count(*) FROM pg_class WHERE relname = 'dropped'`, 0},
	} {
		if n, err := r.QueryInt(ctx, q.sql); err != nil || n != q.want {
			t.Errorf("%s in the restored copy: %d, %v; want %d", q.sql, n, err, q.want)
		}
	}
}

// TestRefreshLeavesUnchangedUnread: when the copy's start is trusted, the blocks that did not
// change are read neither on the server nor in the copy, and the new backup_manifest's checksums
// are the copy's, kept for a file none of whose blocks changed and patched with the changed blocks
// of one that changed (and grew). A byte damaged in the copy in an unread block is then not
// blessed with a new checksum: pgpull verify names both files, and once they are removed a
// refresh copies them again.
func TestRefreshLeavesUnchangedUnread(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	// Frozen, so that no later scan sets hint bits, which would change the pages.
	mustExec(t, src,
		`CREATE TABLE still AS SELECT g, md5(g::text) AS m FROM generate_series(1, 20000) g`,
		`CREATE TABLE moving AS SELECT g, 0 AS n FROM generate_series(1, 20000) g`,
		`VACUUM (FREEZE) still`, `VACUUM (FREEZE) moving`, `CHECKPOINT`)
	still, moving := relationPath(t, src, "still"), relationPath(t, src, "moving")
	dest := filepath.Join(t.TempDir(), "copy")
	backupOK(t, "backup", "-c", "fast", src.DSN(), dest)

	// The first rows change in place and their new versions go to the end, which grows the file;
	// the middle of the file stays as it was.
	mustExec(t, src, `UPDATE moving SET n = 1 WHERE g <= 100`)
	var damaged []string
	for _, rel := range []string{still, moving} {
		name := filepath.Join(dest, filepath.FromSlash(rel))
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		body[len(body)/2] ^= 0xff
		if err := os.WriteFile(name, body, 0o600); err != nil {
			t.Fatal(err)
		}
		damaged = append(damaged, name)
	}
	code, stderr := pgpull(t, nil, "backup", "--refresh", "-v", "-c", "fast", src.DSN(), dest)
	if code != 0 || !strings.Contains(stderr, "refresh from") {
		t.Fatalf("refresh (%d), want one from the copy's start (a line \"refresh from\"): %s", code, stderr)
	}
	if r := pgpullVerify(t, nil, dest); r.code == 0 || !strings.Contains(r.stdout+r.stderr, still) || !strings.Contains(r.stdout+r.stderr, moving) {
		t.Errorf("pgpull verify of the copy whose %s and %s were damaged before the refresh (%d), want both named: %s%s",
			still, moving, r.code, r.stdout, r.stderr)
	}

	for _, name := range damaged {
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
	if code, stderr := pgpull(t, nil, "backup", "--refresh", "-c", "fast", src.DSN(), dest); code != 0 {
		t.Fatalf("refresh after removing the damaged files (%d): %s", code, stderr)
	}
	checkVerifies(t, src.Major, dest)
	r := testcluster.AdoptForTest(t, dest)
	if n, err := r.QueryInt(context.Background(), `SELECT count(*) + sum(n) FROM moving`); err != nil || n != 20100 {
		t.Errorf("moving in the restored copy: count + sum(n) = %d, %v; want 20100", n, err)
	}
	if err := r.Amcheck(context.Background()); err != nil {
		t.Error(err)
	}
}

// treeBytes is the size of the regular files under dir.
func treeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			fi, err := e.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return n
}

// killWhen runs the pgpull binary with args and kills it with SIGKILL once ready reports true,
// failing t if it ended by itself first.
func killWhen(t *testing.T, bin string, ready func() bool, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(3 * time.Minute); !ready(); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("pgpull %v ended (%v) before it could be killed mid-copy:\n%s", args, err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("pgpull %v: not ready to be killed after 3 minutes:\n%s", args, stderr.String())
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("pgpull already gone (%v): nothing left to interrupt", err)
	}
	if err := <-exited; err == nil {
		t.Fatalf("pgpull finished before the kill: the test interrupted nothing\n%s", stderr.String())
	}
}

// checkCannotStart asserts what makes PostgreSQL refuse a directory cut short: no
// global/pg_control, and the marker that tells pgpull and the user to complete it.
func checkCannotStart(t *testing.T, dir string) {
	t.Helper()
	if exists(filepath.Join(dir, "global", "pg_control")) {
		t.Errorf("%s was killed mid-copy and holds global/pg_control: it could start half copied", dir)
	}
	if !exists(filepath.Join(dir, sinks.IncompleteMarker)) {
		t.Errorf("%s was killed mid-copy and holds no %s", dir, sinks.IncompleteMarker)
	}
	if exists(filepath.Join(dir, "backup_manifest")) {
		t.Errorf("%s was killed mid-copy and holds a backup_manifest: it passes for complete", dir)
	}
}

// TestRefreshKilled kills a first backup mid-copy and then a refresh mid-copy, with SIGKILL:
// each time the directory must be one PostgreSQL refuses to start, and rerunning with --refresh
// completes it, the first time without moving again what was already written (counted on the
// wire), the second time into a copy that restores consistent.
func TestRefreshKilled(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	dsn, proxy := countingDSN(t, src)
	if out, err := src.Pgbench(ctx, "-i", "-q", "-s", "5").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	addUnlogged(t, src)
	bin := buildPgpull(t)
	dest := filepath.Join(t.TempDir(), "copy")

	killWhen(t, bin, func() bool { return treeBytes(t, dest) >= 24<<20 }, "backup", "-c", "fast", "-r", "8M", dsn, dest)
	checkCannotStart(t, dest)
	present := treeBytes(t, dest)
	before := proxy.ToClients()
	if code, stderr := pgpull(t, nil, "backup", "--refresh", "-c", "fast", dsn, dest); code != 0 {
		t.Fatalf("resuming the killed first backup failed (%d): %s", code, stderr)
	}
	resumed, total := proxy.ToClients()-before, treeBytes(t, dest)
	t.Logf("resume: %d bytes were in place, %d in the end, %d moved on the wire", present, total, resumed)
	if resumed+present/2 > total {
		t.Errorf("resuming moved %d bytes of %d with %d already in place: what was written was moved again", resumed, total, present)
	}
	checkVerifies(t, src.Major, dest)

	runPgbench(t, src, 1000)
	killWhen(t, bin, func() bool {
		// Marked, and the earlier backup's pg_control and manifest gone: the copy has begun.
		return exists(filepath.Join(dest, sinks.IncompleteMarker)) && !exists(filepath.Join(dest, "global", "pg_control")) &&
			!exists(filepath.Join(dest, "backup_manifest"))
	},
		"backup", "--refresh", "-c", "fast", "-r", "1M", dsn, dest)
	checkCannotStart(t, dest)
	if code, stderr := pgpull(t, nil, "backup", "--refresh", "-c", "fast", dsn, dest); code != 0 {
		t.Fatalf("rerunning the killed refresh failed (%d): %s", code, stderr)
	}
	checkVerifies(t, src.Major, dest)
	checkRestored(t, testcluster.AdoptForTest(t, dest))
}
