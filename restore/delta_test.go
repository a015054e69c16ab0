package restore

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDeltaFile: a delta restore writes only the blocks that differ, sizes the file as the
// backup has it, and counts the file rewritten only when a byte changed.
func TestDeltaFile(t *testing.T) {
	block := func(b byte) []byte { return bytes.Repeat([]byte{b}, deltaBlock) }
	tests := []struct {
		name          string
		local, backup []byte
		wantWritten   int64
		rewritten     bool
	}{
		{"same", slices.Concat(block(1), block(2)), slices.Concat(block(1), block(2)), 0, false},
		{"one block differs", slices.Concat(block(1), block(2), block(3)), slices.Concat(block(1), block(9), block(3)), deltaBlock, true},
		{"grown", block(1), slices.Concat(block(1), block(2)), deltaBlock, true},
		{"shrunk", slices.Concat(block(1), block(2)), block(1), 0, true},
		{"partial last block", slices.Concat(block(1), []byte("abc")), slices.Concat(block(1), []byte("abd")), 3, true},
		{"new file", nil, block(4), deltaBlock, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.local != nil {
				if err := os.WriteFile(filepath.Join(dir, "f"), tt.local, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			pl, err := openPlace(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			var tl tally
			w, err := pl.openDelta("f", &tl)
			if err != nil {
				t.Fatal(err)
			}
			// Written in pieces that do not fall on block boundaries, as a tar reader hands them.
			for rest := tt.backup; len(rest) > 0; {
				n := min(len(rest), 5000)
				if _, err := w.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "f"))
			if !bytes.Equal(got, tt.backup) {
				t.Errorf("the file holds %d bytes unlike the backup's %d", len(got), len(tt.backup))
			}
			if tl.rewritten.Load() == 1 != tt.rewritten || tl.unchanged.Load() == 1 == tt.rewritten {
				t.Errorf("rewritten %d, unchanged %d; want rewritten: %v", tl.rewritten.Load(), tl.unchanged.Load(), tt.rewritten)
			}
			if tt.wantWritten > 0 && tl.bytes.Load() > tt.wantWritten+deltaBlock || tl.bytes.Load() < tt.wantWritten {
				t.Errorf("%d bytes written, want about %d", tl.bytes.Load(), tt.wantWritten)
			}
		})
	}
}

// TestRemoveStale: after a delta restore, what the backup did not hold goes, links included
// (not what they lead to), and what it did, or what is to be kept, stays.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for _, p := range []string{"base/1/1", "base/1/2", "base/9/1", "pg_wal/0001", "keep", outside + "/precious"} {
		full := p
		if !filepath.IsAbs(p) {
			full = filepath.Join(dir, p)
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "stale_link")); err != nil {
		t.Fatal(err)
	}
	pl, err := openPlace(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"base", "base/1", "base/1/1"} {
		pl.mark(p)
	}
	n, err := pl.removeStale("keep")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("%d files removed, want 3 (base/1/2, base/9/1, pg_wal/0001)", n)
	}
	for p, want := range map[string]bool{"base/1/1": true, "keep": true, "base/1/2": false, "base/9": false, "pg_wal": false, "stale_link": false} {
		if _, err := os.Lstat(filepath.Join(dir, p)); (err == nil) != want {
			t.Errorf("%s there: %v, want %v", p, err == nil, want)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "precious")); err != nil {
		t.Errorf("what a stale link led to was removed: %v", err)
	}
}
