package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// pgpull runs the command in-process, as a user would run the binary, and returns its exit
// status and stderr.
func pgpull(t *testing.T, stdout *os.File, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	var out = stdout
	if out == nil {
		out = os.Stdout
	}
	code := run(args, out, &stderr)
	t.Logf("pgpull %s -> %d\n%s", strings.Join(args, " "), code, stderr.String())
	return code, stderr.String()
}

// addUnlogged makes an unlogged table with rows: a restored copy must have it empty.
func addUnlogged(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	if err := c.Exec(context.Background(), `CREATE UNLOGGED TABLE scratch AS SELECT g, md5(g::text) FROM generate_series(1, 50000) g`); err != nil {
		t.Fatal(err)
	}
}

// checkRestored runs the checks a user relies on against a started restored copy.
func checkRestored(t *testing.T, r *testcluster.Cluster) {
	t.Helper()
	ctx := context.Background()
	if err := r.CheckTPCB(ctx); err != nil {
		t.Error(err)
	}
	if err := r.Amcheck(ctx); err != nil {
		t.Error(err)
	}
	n, err := r.QueryInt(ctx, `SELECT count(*) FROM scratch`)
	if err != nil || n != 0 {
		t.Errorf("unlogged table in the restored copy: %d rows, %v; want 0 rows", n, err)
	}
}

func TestBackupStreamUnderLoad(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	addUnlogged(t, src)
	load := loadPgbench(t, src, "10")

	tarPath := filepath.Join(t.TempDir(), "base.tar")
	out, err := os.Create(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	code, stderr := pgpull(t, out, "backup", "-j", "4", "-c", "fast", "-v", src.DSN(), "-")
	out.Close()
	load.stop(t)
	if code != 0 {
		t.Fatalf("pgpull backup failed (%d): %s", code, stderr)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	extract(t, tarPath, dir)
	checkRestored(t, testcluster.AdoptForTest(t, dir))
}

func TestBackupPlainWithTablespace(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	base := t.TempDir()
	live := filepath.Join(base, "ts-live")
	if err := src.MkdirForServer(live); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, `CREATE TABLESPACE ts1 LOCATION '`+live+`'`); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, `CREATE TABLE spaced TABLESPACE ts1 AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 100000) g`); err != nil {
		t.Fatal(err)
	}
	addUnlogged(t, src)
	if src.Major >= 17 {
		summarizeWAL(t, src)
	}
	load := loadPgbench(t, src, "5")

	dest := filepath.Join(base, "copy")
	// Without -T the tablespace would go to its original path, which is the live one: refused.
	code, stderr := pgpull(t, nil, "backup", "-j", "4", "-c", "fast", src.DSN(), dest)
	if code == 0 || !strings.Contains(stderr, live) {
		t.Fatalf("backup into the live tablespace: exit %d, %q; want a refusal naming %s", code, stderr, live)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("refused backup left %s behind (%v)", dest, err)
	}
	moved := filepath.Join(base, "ts-copy")
	code, stderr = pgpull(t, nil, "backup", "-j", "4", "-c", "fast", "-T", live+"="+moved, src.DSN(), dest)
	load.stop(t)
	if code != 0 {
		t.Fatalf("pgpull backup failed (%d): %s", code, stderr)
	}
	link, err := os.Readlink(filepath.Join(dest, "pg_tblspc", tablespaceOID(t, src, "ts1")))
	if err != nil || link != moved {
		t.Fatalf("pg_tblspc link: %q, %v; want %s", link, err, moved)
	}
	for _, p := range []string{dest, filepath.Join(dest, "base"), moved} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", p, st.Mode().Perm(), err)
		}
	}
	checkWALDirs(t, dest, src.Major)
	r := testcluster.AdoptForTest(t, dest)
	checkRestored(t, r)
	n, err := r.QueryInt(ctx, `SELECT count(*) FROM spaced`)
	if err != nil || n != 100000 {
		t.Errorf("table in the tablespace: %d rows, %v; want 100000", n, err)
	}
}

// summarizeWAL turns on 17's WAL summarizer and waits until it has written a summary into
// pg_wal/summaries, which a backup must then leave out.
func summarizeWAL(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, sql := range []string{`ALTER SYSTEM SET summarize_wal = on`, `SELECT pg_reload_conf()`} {
		if err := c.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		// Each checkpoint gives the summarizer a point to end a summary at.
		if err := c.Exec(ctx, `CHECKPOINT`); err != nil {
			t.Fatal(err)
		}
		n, err := c.QueryInt(ctx, `SELECT count(*) FROM pg_available_wal_summaries()`)
		if err == nil && n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no WAL summary written within a minute of summarize_wal = on (last error %v)", err)
		case <-tick.C:
		}
	}
}

// checkWALDirs checks a plain backup's pg_wal holds what pg_basebackup's does besides the WAL:
// archive_status with only .done markers, and on 17 and later an empty summaries directory.
func checkWALDirs(t *testing.T, dest string, major int) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dest, "pg_wal"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			dirs[e.Name()] = true
		}
	}
	want := map[string]bool{"archive_status": true}
	if major >= 17 {
		want["summaries"] = true
	}
	if !maps.Equal(dirs, want) {
		t.Errorf("directories in pg_wal: %v; want %v (server %d)", slices.Sorted(maps.Keys(dirs)), slices.Sorted(maps.Keys(want)), major)
	}
	if summaries, err := os.ReadDir(filepath.Join(dest, "pg_wal", "summaries")); major >= 17 && (err != nil || len(summaries) > 0) {
		t.Errorf("pg_wal/summaries in the backup: %d entries, %v; want an empty directory", len(summaries), err)
	}
	markers, err := os.ReadDir(filepath.Join(dest, "pg_wal", "archive_status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range markers {
		if !strings.HasSuffix(m.Name(), ".done") {
			t.Errorf("pg_wal/archive_status/%s in the backup; want only .done markers", m.Name())
		}
	}
}

// addTablespace makes tablespace ts1 in a new directory and a table "spaced" of 50000 rows in it.
func addTablespace(t *testing.T, c *testcluster.Cluster) (location, oid string) {
	t.Helper()
	ctx := context.Background()
	location = filepath.Join(t.TempDir(), "ts")
	if err := c.MkdirForServer(location); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, `CREATE TABLESPACE ts1 LOCATION '`+location+`'`); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, `CREATE TABLE spaced TABLESPACE ts1 AS SELECT g FROM generate_series(1, 50000) g`); err != nil {
		t.Fatal(err)
	}
	return location, tablespaceOID(t, c, "ts1")
}

func tablespaceOID(t *testing.T, c *testcluster.Cluster, name string) string {
	t.Helper()
	oid, err := c.QueryString(context.Background(), `SELECT oid::text FROM pg_tablespace WHERE spcname = $1`, name)
	if err != nil {
		t.Fatal(err)
	}
	return oid
}

// TestBackupMatchesPgBasebackup compares the paths of a plain backup of a quiet cluster with
// pg_basebackup's, with a temp table open, an unlogged table and a pgsql_tmp file present.
func TestBackupMatchesPgBasebackup(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if src.Major > 15 {
		t.Skipf("pg_basebackup 15 refuses servers newer than 15, and this one is %d", src.Major)
	}
	addUnlogged(t, src)
	conn, err := src.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE held AS SELECT g FROM generate_series(1, 1000) g`); err != nil {
		t.Fatal(err)
	}
	tmpDir := filepath.Join(src.DataDir, "base", "pgsql_tmp")
	if err := src.MkdirForServer(tmpDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmpDir, "pgsql_tmp1234.0"), []byte("spill"), 0o600); err != nil {
		t.Fatal(err)
	}

	base := t.TempDir()
	ours := filepath.Join(base, "pgpull")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", src.DSN(), ours); code != 0 {
		t.Fatalf("pgpull backup failed (%d): %s", code, stderr)
	}
	theirs := filepath.Join(base, "pg_basebackup")
	bindir, err := testcluster.ClientBindir()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bindir, "pg_basebackup"), "-d", src.DSN(), "-D", theirs, "-Fp", "-X", "fetch", "-c", "fast")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	a, b := backupPaths(t, ours), backupPaths(t, theirs)
	for p := range a {
		if !b[p] {
			t.Errorf("pgpull has %s, pg_basebackup does not", p)
		}
	}
	for p := range b {
		if !a[p] {
			t.Errorf("pg_basebackup has %s, pgpull does not", p)
		}
	}
}

// backupPaths lists a backup's paths, leaving out what differs by design between two backups:
// WAL segments, archive_status entries and the manifest.
func backupPaths(t *testing.T, root string) map[string]bool {
	t.Helper()
	paths := map[string]bool{}
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case rel == "." || rel == "backup_manifest":
		case strings.HasPrefix(rel, "pg_wal/") && rel != "pg_wal/archive_status":
		default:
			paths[rel] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// TestBackupStreamWithTablespace checks the one-stream layout of tablespaces and the restore the
// README gives for it: each tablespace arrives as a directory under pg_tblspc, with no
// tablespace_map; moved out and linked back before the first start, the copy starts.
func TestBackupStreamWithTablespace(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	_, oid := addTablespace(t, src)
	tarPath := filepath.Join(t.TempDir(), "base.tar")
	stderr := streamBackup(t, tarPath, "-c", "fast", src.DSN())
	dir := filepath.Join(t.TempDir(), "restored")
	extract(t, tarPath, dir)
	if _, err := os.Stat(filepath.Join(dir, "tablespace_map")); !os.IsNotExist(err) {
		t.Fatalf("the stream carries a tablespace_map (%v)", err)
	}
	inStream := filepath.Join(dir, "pg_tblspc", oid)
	if st, err := os.Lstat(inStream); err != nil || !st.IsDir() {
		t.Fatalf("pg_tblspc/%s in the stream: %v, %v; want a directory", oid, st, err)
	}
	if !strings.Contains(stderr, "pg_tblspc/"+oid) {
		t.Errorf("no word on stderr of how to restore tablespace %s: %q", oid, stderr)
	}
	moved := filepath.Join(t.TempDir(), "ts-restored")
	if err := os.Rename(inStream, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(moved, inStream); err != nil {
		t.Fatal(err)
	}
	r := testcluster.AdoptForTest(t, dir)
	n, err := r.QueryInt(ctx, `SELECT count(*) FROM spaced`)
	if err != nil || n != 50000 {
		t.Errorf("table in the tablespace: %d rows, %v; want 50000", n, err)
	}
}

// TestBackupTarFilesWithTablespace restores pg_basebackup -Ft's layout as its documentation
// says: base.tar into the data directory, <oid>.tar wherever the tablespace should live, and
// tablespace_map edited to point there; recovery then makes the pg_tblspc link itself.
func TestBackupTarFilesWithTablespace(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	live, oid := addTablespace(t, src)
	dest := filepath.Join(t.TempDir(), "tars")
	if code, stderr := pgpull(t, nil, "backup", "-F", "tar", "-c", "fast", src.DSN(), dest); code != 0 {
		t.Fatalf("pgpull backup -F tar failed (%d): %s", code, stderr)
	}
	for _, name := range []string{"base.tar", oid + ".tar", "backup_manifest"} {
		if _, err := os.Stat(filepath.Join(dest, name)); err != nil {
			t.Fatalf("-F tar output lacks %s: %v", name, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "restored")
	extract(t, filepath.Join(dest, "base.tar"), dir)
	moved := filepath.Join(t.TempDir(), "ts-restored")
	extract(t, filepath.Join(dest, oid+".tar"), moved)
	moveTablespace(t, dir, oid, live, moved)
	r := testcluster.AdoptForTest(t, dir)
	n, err := r.QueryInt(ctx, `SELECT count(*) FROM spaced`)
	if err != nil || n != 50000 {
		t.Errorf("table in the tablespace: %d rows, %v; want 50000", n, err)
	}
	if link, err := os.Readlink(filepath.Join(dir, "pg_tblspc", oid)); err != nil || link != moved {
		t.Errorf("recovery linked pg_tblspc/%s to %q (%v), want %s", oid, link, err, moved)
	}
}

// moveTablespace points the tablespace_map of an extracted -F tar backup in dir, which must
// name the source's location live for oid, at moved.
func moveTablespace(t *testing.T, dir, oid, live, moved string) {
	t.Helper()
	mapPath := filepath.Join(dir, "tablespace_map")
	if m, err := os.ReadFile(mapPath); err != nil || !strings.HasPrefix(string(m), oid+" "+live) {
		t.Fatalf("tablespace_map: %q, %v; want %s %s", m, err, oid, live)
	}
	if err := os.WriteFile(mapPath, []byte(oid+" "+moved+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A link ahead of recovery only lets the harness hand the tablespace to the server's user;
	// recovery replaces it from tablespace_map.
	if err := os.Symlink(moved, filepath.Join(dir, "pg_tblspc", oid)); err != nil {
		t.Fatal(err)
	}
}

// streamBackup runs pgpull backup with args and DEST "-", its stream going to path, fails t
// unless it exits 0, and returns its stderr.
func streamBackup(t *testing.T, path string, args ...string) string {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	code, stderr := pgpull(t, out, append(append([]string{"backup"}, args...), "-")...)
	out.Close()
	if code != 0 {
		t.Fatalf("pgpull backup failed (%d): %s", code, stderr)
	}
	return stderr
}

func extract(t *testing.T, tarPath, dir string) {
	t.Helper()
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testcluster.ExtractTar(f, dir); err != nil {
		t.Fatal(err)
	}
}
