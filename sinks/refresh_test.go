package sinks

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/pipeline"
)

// backupIn writes files into a new directory and returns it.
func backupIn(t *testing.T, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "copy")
	writeTree(t, root, files)
	return root
}

func present(root, name string) bool {
	_, err := os.Lstat(filepath.Join(root, filepath.FromSlash(name)))
	return err == nil
}

func TestDirRefresh(t *testing.T) {
	old, same := pattern(1, 3*pipeline.DeltaBlock), pattern(2, 2*pipeline.DeltaBlock)
	root := backupIn(t, map[string]string{
		"base/1/kept": string(old), "base/1/same": string(same), "base/1/patched": string(same), "base/1/dropped": "old", "base/9/1259": "old", "base/9/1249": "old",
		"pg_wal/000000010000000000000002": "old wal", "global/pg_control": "old control",
		"backup_label": "old label", "backup_manifest": "{}", "tablespace_map": "1 /x\n",
	})

	// base/1/kept shrinks to two blocks and a half; fetch found only its second block changed.
	// Data's first block differs from the disk too: the sink must not write it, since fetch did
	// not move it.
	newer := pattern(7, 2*pipeline.DeltaBlock+100)
	kept := &pipeline.File{Path: "base/1/kept", Source: "base/1/kept", Size: int64(len(newer)), ModTime: testTime, Segment: -1}
	var s testStream
	s.dir("base", "")
	s.dir("base/1", "")
	p := s.add(kept, 0, kept.Size, newer)
	p.Delta = &pipeline.Delta{Moved: []bool{false, true, false}}
	// base/1/same is Kept: its Pieces come without Data, and the file stays as it is.
	unread := &pipeline.File{Path: "base/1/same", Source: "base/1/same", Size: int64(len(same)), ModTime: testTime, Segment: -1, Patched: true, PriorSize: int64(len(same))}
	s.add(unread, 0, pipeline.DeltaBlock, nil)
	s.add(unread, pipeline.DeltaBlock, pipeline.DeltaBlock, nil)
	// base/1/patched is Patched: its first Piece, in which no block changed, comes without Data,
	// and of the second only the changed block holds bytes.
	patched := &pipeline.File{Path: "base/1/patched", Source: "base/1/patched", Size: int64(len(same)), ModTime: testTime, Segment: -1,
		Patched: true, PriorSize: int64(len(same)), Changed: []uint32{1}}
	s.add(patched, 0, pipeline.DeltaBlock, nil).Delta = &pipeline.Delta{Listed: true, Moved: []bool{false}}
	s.add(patched, pipeline.DeltaBlock, pipeline.DeltaBlock, newer[:pipeline.DeltaBlock]).Delta = &pipeline.Delta{Listed: true, Moved: []bool{true}}
	fresh := s.file("base/1/fresh", "", pattern(8, 3000), 8192)
	s.content("backup_label", []byte("new label"))
	control := pattern(9, 8192)
	s.file("global/pg_control", "", control, 8192)

	d, err := NewDir(root, DirOptions{Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if !present(root, "global/pg_control") {
		t.Fatal("NewDir removed global/pg_control: a refresh failing before the copy must leave the backup whole")
	}
	if err := d.Put(context.Background(), s.pieces[0]); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"global/pg_control", "backup_label", "backup_manifest", "tablespace_map"} {
		if present(root, name) {
			t.Errorf("%s still there once the copy began: the directory could start or pass for complete", name)
		}
	}
	if !present(root, IncompleteMarker) {
		t.Errorf("no %s once the copy began", IncompleteMarker)
	}
	for _, p := range s.pieces[1:] {
		if err := d.Put(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(context.Background(), []byte("manifest")); err != nil {
		t.Fatal(err)
	}

	want := append(append(append([]byte{}, old[:pipeline.DeltaBlock]...), newer[pipeline.DeltaBlock:2*pipeline.DeltaBlock]...), old[2*pipeline.DeltaBlock:][:100]...)
	if got := readFile(t, filepath.Join(root, "base/1/kept")); !bytes.Equal(got, want) {
		t.Errorf("base/1/kept: %d bytes, want %d: the unmoved blocks as they were, the moved one replaced, cut to the new size", len(got), len(want))
	}
	if got := readFile(t, filepath.Join(root, "base/1/same")); !bytes.Equal(got, same) {
		t.Errorf("base/1/same (Kept): %d bytes, not the copy's %d as they were", len(got), len(same))
	}
	if got, want := readFile(t, filepath.Join(root, "base/1/patched")), append(same[:pipeline.DeltaBlock:pipeline.DeltaBlock], newer[:pipeline.DeltaBlock]...); !bytes.Equal(got, want) {
		t.Errorf("base/1/patched: %d bytes, want %d: its first block as it was, the second the server's", len(got), len(want))
	}
	if fi, err := os.Stat(filepath.Join(root, "base/1/same")); err != nil {
		t.Error(err)
	} else if !fi.ModTime().Equal(testTime) {
		t.Errorf("base/1/same (Kept): mtime %v, want the server's %v", fi.ModTime(), testTime)
	}
	if got := readFile(t, filepath.Join(root, fresh.Path)); int64(len(got)) != fresh.Size {
		t.Errorf("new file: %d bytes, want %d", len(got), fresh.Size)
	}
	if got := readFile(t, filepath.Join(root, "global/pg_control")); !bytes.Equal(got, control) {
		t.Error("global/pg_control not the stream's")
	}
	if got := readFile(t, filepath.Join(root, "backup_label")); string(got) != "new label" {
		t.Errorf("backup_label %q", got)
	}
	for _, name := range []string{"base/1/dropped", "base/9", "pg_wal/000000010000000000000002", "tablespace_map", IncompleteMarker} {
		if present(root, name) {
			t.Errorf("%s survived the refresh", name)
		}
	}
	if d.Removed() != 4 {
		t.Errorf("Removed() = %d, want 4 (base/1/dropped, base/9's two files, the old WAL)", d.Removed())
	}
}

func TestDirRefreshAbortKeepsTheCopy(t *testing.T) {
	root := backupIn(t, map[string]string{"base/1/kept": "old", "backup_manifest": "{}", "global/pg_control": "old control"})
	var s testStream
	s.dir("base", "")
	s.file("base/1/kept", "", pattern(3, 100), 8192)
	d, err := NewDir(root, DirOptions{Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := putAll(t, d, s.pieces); err != nil {
		t.Fatal(err)
	}
	if err := d.Abort(); err != nil {
		t.Fatal(err)
	}
	if !present(root, "base/1/kept") || !present(root, IncompleteMarker) || present(root, "global/pg_control") {
		t.Errorf("after Abort: kept %v, marker %v, pg_control %v; want the copy and the marker kept for the rerun, no pg_control",
			present(root, "base/1/kept"), present(root, IncompleteMarker), present(root, "global/pg_control"))
	}
	if _, err := NewDir(root, DirOptions{}); err == nil || !strings.Contains(err.Error(), "--refresh") {
		t.Errorf("a plain backup into the unfinished one: %v; want a refusal pointing at --refresh", err)
	}
	if _, err := NewDir(root, DirOptions{Refresh: true}); err != nil {
		t.Errorf("refreshing the unfinished backup: %v", err)
	}
}

func TestDirRefreshRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"a running server", map[string]string{"backup_manifest": "{}", "postmaster.pid": "1\n"}, "postmaster.pid"},
		{"no backup", map[string]string{"notes.txt": "mine"}, "no earlier backup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := backupIn(t, tc.files)
			_, err := NewDir(root, DirOptions{Refresh: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewDir: %v; want a refusal saying %q", err, tc.want)
			}
			for name := range tc.files {
				if !present(root, name) {
					t.Errorf("the refusal removed %s", name)
				}
			}
		})
	}
}

// TestWriteAtZeroTail: a refresh writes zeros where a Piece's Data ends early (the last WAL
// segment read only through the stop LSN's page, a file that vanished mid-read) over what the
// file held there before.
func TestWriteAtZeroTail(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"read in part", []byte("wal records")},
		{"vanished", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "000000010000000000000003")
			if err := os.WriteFile(name, bytes.Repeat([]byte{0xee}, 100<<10), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(name, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			p := &pipeline.Piece{File: &pipeline.File{Path: "pg_wal/000000010000000000000003", Size: 100 << 10},
				Offset: 4096, Length: 90 << 10, Data: tt.data}
			if err := writeAt(f, p); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.Repeat([]byte{0xee}, 100<<10)
			copy(want[4096:], append(bytes.Clone(tt.data), make([]byte, 90<<10-len(tt.data))...))
			if !bytes.Equal(got, want) {
				t.Errorf("the file holds other bytes than the Piece's Data, zeros to its Length, and the rest untouched")
			}
		})
	}
}
