package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupForce runs -f over an earlier backup: a run that fails before copying anything
// leaves the earlier backup whole; one that fails midway leaves DEST empty, as README says;
// a good one leaves no file of the earlier backup (tablespace_map, WAL, files the new one lacks),
// passes pgpull verify and starts.
func TestBackupForce(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	dest := filepath.Join(t.TempDir(), "copy")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", src.DSN(), dest); code != 0 {
		t.Fatalf("first backup failed (%d): %s", code, stderr)
	}
	// What an older backup could hold and the new one will not.
	stale := []string{"tablespace_map", "pg_wal/00000001000000FF00000000", "base/1/999999"}
	for _, p := range stale {
		if err := os.WriteFile(filepath.Join(dest, filepath.FromSlash(p)), []byte("stale"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("failing before the copy keeps the earlier backup", func(t *testing.T) {
		if err := src.Exec(ctx, `CREATE ROLE weak LOGIN`); err != nil {
			t.Fatal(err)
		}
		before := listTree(t, dest)
		code, stderr := pgpull(t, nil, "backup", "-f", "-c", "fast", roleDSN(src, "weak"), dest)
		if code == 0 {
			t.Fatalf("backup as a role without the grants exited 0")
		}
		checkOneLine(t, stderr)
		if after := listTree(t, dest); strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Errorf("the earlier backup changed:\n%v\nwas:\n%v", after, before)
		}
		checkServerClean(t, src)
	})

	t.Run("failing midway leaves DEST empty", func(t *testing.T) {
		bg := startBackground(t, "backup", "-f", "-c", "fast", "-r", "1M", src.DSN(), dest)
		// The earlier backup goes once the copy is under way: then the failure comes.
		label := filepath.Join(dest, "backup_label")
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(label); errors.Is(err, fs.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the earlier backup_label is still there a minute into the run")
			}
		}
		terminate(t, src, "pgpull control")
		code, stderr := bg.wait(t, time.Minute)
		if code == 0 {
			t.Fatalf("a run whose control session was terminated exited 0")
		}
		checkOneLine(t, stderr)
		if got := listTree(t, dest); len(got) != 0 {
			t.Errorf("a failed -f run left %v in DEST, want it empty", got)
		}
		checkServerClean(t, src)
	})

	t.Run("a good run leaves nothing stale", func(t *testing.T) {
		// Put the earlier backup back, stale files and all.
		if err := os.Remove(dest); err != nil {
			t.Fatal(err)
		}
		if code, stderr := pgpull(t, nil, "backup", "-c", "fast", src.DSN(), dest); code != 0 {
			t.Fatalf("backup failed (%d): %s", code, stderr)
		}
		for _, p := range stale {
			if err := os.WriteFile(filepath.Join(dest, filepath.FromSlash(p)), []byte("stale"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if code, stderr := pgpull(t, nil, "backup", "-f", "-c", "fast", src.DSN(), dest); code != 0 {
			t.Fatalf("backup -f failed (%d): %s", code, stderr)
		}
		for _, p := range stale {
			if _, err := os.Stat(filepath.Join(dest, filepath.FromSlash(p))); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s of the earlier backup survived -f (err %v)", p, err)
			}
		}
		if r := pgpullVerify(t, nil, dest); r.code != 0 {
			t.Errorf("pgpull verify refused the -f backup (%d): %s%s", r.code, r.stdout, r.stderr)
		}
		testcluster.AdoptForTest(t, dest)
	})
}

// listTree lists every entry under root by slash path.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
