package sinks

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tablespaceStream is a small cluster with one tablespace, 16384, whose files come between
// those of the main directory, as the listing may send them.
func tablespaceStream() (*testStream, [][]tarMember) {
	var s testStream
	label := []byte("label\n")
	tsmap := []byte("16384 /srv/ts\n")
	s.content("backup_label", label)
	s.content("tablespace_map", tsmap)
	s.dir("base", "")
	s.dir("pg_tblspc", "")
	s.dir("pg_tblspc/16384", "16384")
	s.dir("pg_tblspc/16384/PG_15_202209061", "16384")
	ts := pattern(1, 9000)
	s.file("pg_tblspc/16384/PG_15_202209061/5/16390", "16384", ts, 4096)
	rel := pattern(2, 5000)
	s.file("base/5/1259", "", rel, 4096)
	control := pattern(3, 8192)
	s.file("global/pg_control", "", control, 8192)
	base := []tarMember{{"backup_label", false, label}, {"tablespace_map", false, tsmap},
		{"base/", true, nil}, {"pg_tblspc/", true, nil}, {name: "base/5/1259", body: rel},
		{name: "global/pg_control", body: control}}
	space := []tarMember{{"PG_15_202209061/", true, nil}, {name: "PG_15_202209061/5/16390", body: ts}}
	return &s, [][]tarMember{base, space}
}

func TestTarFilesLayout(t *testing.T) {
	gz := func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil }
	tests := []struct {
		name string
		opts TarFilesOptions
	}{
		{"plain", TarFilesOptions{}},
		{"gzip", TarFilesOptions{Ext: ".gz", Wrap: gz, NoSync: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			s, want := tablespaceStream()
			sink, err := NewTarFiles(dir, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := putAll(t, sink, s.pieces); err != nil {
				t.Fatal(err)
			}
			manifest := []byte("{}\n")
			if err := sink.Close(context.Background(), manifest); err != nil {
				t.Fatal(err)
			}
			names := []string{"16384.tar" + tt.opts.Ext, "backup_manifest", "base.tar" + tt.opts.Ext}
			if got := tree(t, dir); !slices.Equal(got, []string{". drwx------",
				names[0] + " -rw-------", names[1] + " -rw-------", names[2] + " -rw-------"}) {
				t.Errorf("directory holds %v", got)
			}
			if got := readFile(t, filepath.Join(dir, "backup_manifest")); !bytes.Equal(got, manifest) {
				t.Errorf("backup_manifest holds %q", got)
			}
			for i, name := range []string{names[2], names[0]} {
				archive := readFile(t, filepath.Join(dir, name))
				if tt.opts.Wrap != nil {
					zr, err := gzip.NewReader(bytes.NewReader(archive))
					if err != nil {
						t.Fatal(err)
					}
					if archive, err = io.ReadAll(zr); err != nil {
						t.Fatal(err)
					}
				}
				got, _ := readTar(t, archive)
				checkMembers(t, got, want[i])
			}
		})
	}
}

func TestTarFilesEmptyStreamStillHasBase(t *testing.T) {
	dir := t.TempDir()
	sink, err := NewTarFiles(dir, TarFilesOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	got, _ := readTar(t, readFile(t, filepath.Join(dir, "base.tar")))
	if len(got) != 0 {
		t.Errorf("empty stream gave members %v", got)
	}
}

// TestTarFilesNonEmptyAndAbort: -f replaces an earlier backup and nothing else; a run failing
// after its first byte leaves the directory empty, a good one no file of the earlier backup.
func TestTarFilesNonEmptyAndAbort(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"keep.txt": "mine"})
	if _, err := NewTarFiles(dir, TarFilesOptions{}); err == nil ||
		!strings.Contains(err.Error(), "exists and is not empty; use -f/--force or choose another") {
		t.Fatalf("err = %v, want the not-empty error", err)
	}
	if _, err := NewTarFiles(dir, TarFilesOptions{Force: true}); err == nil || !strings.Contains(err.Error(), "holds no backup") {
		t.Fatalf("err = %v, want -f refused on a directory that is no backup", err)
	}
	if got := tree(t, dir); len(got) != 2 || !strings.HasPrefix(got[1], "keep.txt ") {
		t.Errorf("after the refusals the directory holds %v, want only keep.txt", got)
	}

	earlier := map[string]string{"base.tar": "old", "16385.tar": "old", "backup_manifest": "old"}
	s, _ := tablespaceStream()
	failed := t.TempDir()
	writeTree(t, failed, earlier)
	sink, err := NewTarFiles(failed, TarFilesOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := putAll(t, sink, s.pieces[:len(s.pieces)-1]); err != nil {
		t.Fatal(err)
	}
	if err := sink.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, failed); len(got) != 1 {
		t.Errorf("after Abort the directory holds %v, want nothing", got)
	}
	good := t.TempDir()
	writeTree(t, good, earlier)
	s, _ = tablespaceStream()
	if sink, err = NewTarFiles(good, TarFilesOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if err := putAll(t, sink, s.pieces); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	want := []string{". drwx------", "16384.tar -rw-------", "base.tar -rw-------"}
	if got := tree(t, good); !slices.Equal(got[1:], want[1:]) {
		t.Errorf("after the run the directory holds %v, want only %v", got, want)
	}

	// A directory the sink made goes entirely.
	made := filepath.Join(t.TempDir(), "a", "out")
	sink, err = NewTarFiles(made, TarFilesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := putAll(t, sink, s.pieces[:3]); err != nil {
		t.Fatal(err)
	}
	if err := sink.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(made)); !os.IsNotExist(err) {
		t.Errorf("after Abort %s still exists (err %v)", filepath.Dir(made), err)
	}
}

// BenchmarkTarFilesSmallFiles writes 20000 files of 8 KiB, where per-member costs dominate.
func BenchmarkTarFilesSmallFiles(b *testing.B) {
	var s testStream
	data := pattern(1, 8192)
	for i := range 20000 {
		s.file("base/5/"+strconv.Itoa(i), "", data, 8192)
	}
	b.SetBytes(int64(len(s.pieces)) * 8192)
	for b.Loop() {
		sink, err := NewTarFiles(b.TempDir(), TarFilesOptions{NoSync: true, Buffer: 64 << 10})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range s.pieces {
			p.Data = data // the previous round's Done cleared it
			if err := sink.Put(context.Background(), p); err != nil {
				b.Fatal(err)
			}
		}
		if err := sink.Close(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
	}
}
