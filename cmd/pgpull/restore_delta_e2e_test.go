package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// fileState is what a delta restore must leave alone in a file it does not rewrite.
type fileState struct {
	sum     [32]byte
	modTime time.Time
}

// treeState reads every regular file under root, following pg_tblspc's links.
func treeState(t *testing.T, root string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	var walk func(dir, rel string)
	walk = func(dir, rel string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p, r := filepath.Join(dir, e.Name()), filepath.Join(rel, e.Name())
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.IsDir() {
				walk(p, r)
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[r] = fileState{sum: sha256.Sum256(b), modTime: fi.ModTime()}
		}
	}
	walk(root, "")
	return out
}

// TestRestoreDelta: a copy restored, started and stopped, then brought by --delta up to a later
// backup of its primary (a stream): the files that were as the backup has them are not written
// (their mtimes stay), the count of files rewritten is the count that differed, what the backup
// lacks is removed, and the copy starts with every table as the primary had it.
func TestRestoreDelta(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if out, err := src.Pgbench(ctx, "-i", "-q", "-s", "3").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	_, oid := addTablespace(t, src)
	base := t.TempDir()
	first := filepath.Join(base, "first.tar")
	streamBackup(t, first, "-c", "fast", src.DSN())
	dir, ts := filepath.Join(base, "copy"), filepath.Join(base, "copy-ts")
	restoreOK(t, "-T", oid+"="+ts, first, dir) // a stream does not say where the server kept it
	copyRan, err := testcluster.Adopt(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(copyRan.SocketDir) })
	if err := copyRan.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := copyRan.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	runPgbench(t, src, 200)
	mustExec(t, src, `UPDATE spaced SET g = -g WHERE g <= 100`, `CREATE TABLE later AS SELECT g FROM generate_series(1, 5000) g`)
	second := filepath.Join(base, "second.tar.zst")
	streamBackup(t, second, "-c", "fast", "-Z", "zstd", src.DSN())
	want := tableDigests(t, src)

	before := treeState(t, dir)
	summaryPath := filepath.Join(base, "delta.json")
	restoreOK(t, "--delta", "-v", "--summary", summaryPath, second, dir)
	after := treeState(t, dir)
	var differed, kept, gone int64
	for p, now := range after {
		was, ok := before[p]
		switch {
		case p == "backup_manifest" || p == "global/pg_control":
			// written whole by every restore, apart from the files the backup streams
		case ok && was.sum == now.sum:
			kept++
			if !was.modTime.Equal(now.modTime) {
				t.Errorf("%s: unchanged, but written by the delta restore (mtime %v, was %v)", p, now.modTime, was.modTime)
			}
		default:
			differed++
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			gone++
		}
	}
	var sum struct {
		Delta deltaSummary `json:"delta"`
	}
	b, err := os.ReadFile(summaryPath)
	if err == nil {
		err = json.Unmarshal(b, &sum)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("files differing %d, kept %d, removed %d; pgpull: %+v", differed, kept, gone, sum.Delta)
	if sum.Delta.Rewritten != differed || sum.Delta.Removed != gone {
		t.Errorf("--summary says %d files rewritten and %d removed; %d differed and %d are gone", sum.Delta.Rewritten, sum.Delta.Removed, differed, gone)
	}
	if kept < differed || sum.Delta.Unchanged != kept {
		t.Errorf("%d files kept as they were (summary %d), %d rewritten: want most kept", kept, sum.Delta.Unchanged, differed)
	}
	r := testcluster.AdoptForTest(t, dir)
	sameTables(t, "after --delta", tableDigests(t, r), want)
}
