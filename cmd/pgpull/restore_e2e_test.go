package main

import (
	"context"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pierrec/lz4/v4"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// ownerArgs is --owner for the server's account when the tests run as root, as a user restoring
// for the postgres user would give it; nothing otherwise.
func ownerArgs(t *testing.T) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	return []string{"--owner", "postgres"}
}

// restoreOK runs pgpull restore with args, fails t unless it exits 0, and checks what a server
// needs of the data directory dir (the last argument) and of each tablespace target: modes
// 0700 and 0600, the owner --owner named, no marker left.
func restoreOK(t *testing.T, args ...string) string {
	t.Helper()
	args = append(append([]string{"restore"}, ownerArgs(t)...), args...)
	code, stderr := pgpull(t, nil, args...)
	if code != 0 {
		t.Fatalf("pgpull restore failed (%d): %s", code, stderr)
	}
	dir := args[len(args)-1]
	if _, err := os.Stat(filepath.Join(dir, "pgpull_incomplete")); !os.IsNotExist(err) {
		t.Errorf("the restored %s still holds pgpull_incomplete (%v)", dir, err)
	}
	checkModes(t, dir)
	checkOwner(t, dir)
	links, _ := os.ReadDir(filepath.Join(dir, "pg_tblspc"))
	for _, l := range links {
		target, err := os.Readlink(filepath.Join(dir, "pg_tblspc", l.Name()))
		if err != nil {
			t.Fatalf("pg_tblspc/%s is no link: %v", l.Name(), err)
		}
		checkModes(t, target)
		checkOwner(t, target)
	}
	return stderr
}

// checkOwner fails t unless everything under root belongs to the account ownerArgs names.
func checkOwner(t *testing.T, root string) {
	t.Helper()
	want := os.Geteuid()
	if want == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		want, _ = strconv.Atoi(u.Uid)
	}
	bad := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != want && bad < 5 {
			bad++
			t.Errorf("%s belongs to uid %d, want %d", p, st.Uid, want)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// checkTablespace fails t unless the restored copy's table in the tablespace has its rows, and
// its link leads to want.
func checkTablespace(t *testing.T, r *testcluster.Cluster, oid, want string) {
	t.Helper()
	if link, err := os.Readlink(filepath.Join(r.DataDir, "pg_tblspc", oid)); err != nil || link != want {
		t.Errorf("pg_tblspc/%s leads to %q (%v), want %s", oid, link, err, want)
	}
	n, err := r.QueryInt(context.Background(), `SELECT count(*) FROM spaced`)
	if err != nil || n != 50000 {
		t.Errorf("table in the tablespace: %d rows, %v; want 50000", n, err)
	}
}

// TestRestoreForms: a backup in each form pgpull writes, a plain directory, a zstd tar stream in
// a file and on stdin, -F tar archives (gzip), and a stream in lz4 frames, restores with one command into a data directory
// that starts, its tablespace where -T says (by the server's path, the backup's link, or the
// OID for a stream), with every table as the primary had it at the backup's end; before it
// starts, pgpull verify finds it as the manifest it keeps says.
func TestRestoreForms(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if out, err := src.Pgbench(context.Background(), "-i", "-q", "-s", "2").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	addUnlogged(t, src)
	live, oid := addTablespace(t, src)
	base := t.TempDir()
	plain, plainTS := filepath.Join(base, "plain"), filepath.Join(base, "plain-ts")
	backupOK(t, "backup", "-c", "fast", "-T", live+"="+plainTS, src.DSN(), plain)
	stream := filepath.Join(base, "base.tar.zst")
	streamBackup(t, stream, "-c", "fast", "-Z", "zstd", src.DSN())
	tars := filepath.Join(base, "tars")
	backupOK(t, "backup", "-c", "fast", "-F", "tar", "-Z", "gzip", src.DSN(), tars)
	want := tableDigests(t, src)
	lz4Stream := recompressLz4(t, stream) // as pg_basebackup --compress=lz4 would write it

	tests := []struct {
		name, source, old string
		stdin             bool
	}{
		{"plain", plain, plainTS, false},
		{"stream", stream, oid, false},
		{"stdin", "-", oid, true},
		{"lz4 stream", lz4Stream, oid, false},
		{"tar files", tars, live, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, ts := filepath.Join(base, "r-"+tt.name), filepath.Join(base, "r-"+tt.name+"-ts")
			if tt.stdin {
				restoreFromStdin(t, stream, "-T", tt.old+"="+ts, "-", dir)
			} else {
				restoreOK(t, "-T", tt.old+"="+ts, tt.source, dir)
			}
			if code, stderr := pgpull(t, nil, "verify", dir); code != 0 {
				t.Errorf("pgpull verify of the restored directory: exit %d: %s", code, stderr)
			}
			r := testcluster.AdoptForTest(t, dir)
			checkRestored(t, r)
			checkTablespace(t, r, oid, ts)
			sameTables(t, "restored from "+tt.name, tableDigests(t, r), want)
		})
	}
}

// recompressLz4 writes the stream in the zstd file at path again as lz4 frames, beside it.
func recompressLz4(t *testing.T, path string) string {
	t.Helper()
	out := strings.TrimSuffix(path, ".zst") + ".lz4"
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := lz4.NewWriter(f)
	if _, err := io.Copy(w, openZstd(t, path)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// restoreFromStdin runs restoreOK with the file at path as stdin.
func restoreFromStdin(t *testing.T, path string, args ...string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = saved }()
	restoreOK(t, args...)
}
