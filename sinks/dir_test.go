package sinks

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tree lists everything under root as "path mode [-> link]", for comparing directory trees.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := filepath.ToSlash(rel) + " " + fi.Mode().String()
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDirWritesDataDirectory(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "new", "pgdata") // parents are made too
	space := filepath.Join(tmp, "ts16384")

	var s testStream
	label := []byte("START WAL LOCATION: 0/2000028\n")
	s.content("backup_label", label)
	s.content("tablespace_map", []byte("16384 /srv/old/ts\n"))
	s.dir("base", "")
	s.dir("base/1", "")
	big := pattern(1, 3*8192+100)
	s.file("base/1/1259", "", big, 8192)
	s.file("base/1/empty", "", nil, 8192)
	s.missing("base/1/gone", 20000, 8192)
	shrunk := s.shrunk("base/1/shrunk", pattern(2, 5000), 20000, 8192)
	s.dir("pg_tblspc", "")
	s.dir("pg_tblspc/16384", "16384")
	s.dir("pg_tblspc/16384/PG_15_202209061", "16384")
	ts := pattern(3, 9000)
	s.file("pg_tblspc/16384/PG_15_202209061/5/16390", "16384", ts, 4096)
	control := pattern(4, 8192)
	s.file("global/pg_control", "", control, 4096)

	d, err := NewDir(root, DirOptions{Tablespaces: map[string]string{"16384": space}})
	if err != nil {
		t.Fatal(err)
	}
	if err := putAll(t, d, s.pieces); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "global", "pg_control")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("pg_control exists before Close (err %v); a directory cut short could start", err)
	}
	manifest := []byte("{}\n")
	if err := d.Close(context.Background(), manifest); err != nil {
		t.Fatal(err)
	}

	wantRoot := []string{
		". drwx------",
		"backup_label -rw-------",
		"backup_manifest -rw-------",
		"base drwx------",
		"base/1 drwx------",
		"base/1/1259 -rw-------",
		"base/1/empty -rw-------",
		"base/1/shrunk -rw-------",
		"global drwx------",
		"global/pg_control -rw-------",
		"pg_tblspc drwx------",
		"pg_tblspc/16384 Lrwxrwxrwx -> " + space,
	}
	if got := tree(t, root); !slices.Equal(got, wantRoot) {
		t.Errorf("data directory:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRoot, "\n"))
	}
	wantSpace := []string{
		". drwx------",
		"PG_15_202209061 drwx------",
		"PG_15_202209061/5 drwx------",
		"PG_15_202209061/5/16390 -rw-------",
	}
	if got := tree(t, space); !slices.Equal(got, wantSpace) {
		t.Errorf("tablespace:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantSpace, "\n"))
	}
	for path, want := range map[string][]byte{
		"backup_label": label, "backup_manifest": manifest, "base/1/1259": big, "base/1/empty": {},
		"base/1/shrunk": shrunk, "global/pg_control": control,
	} {
		if got := readFile(t, filepath.Join(root, path)); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes differ from the %d expected", path, len(got), len(want))
		}
	}
	if got := readFile(t, filepath.Join(root, "pg_tblspc/16384/PG_15_202209061/5/16390")); !bytes.Equal(got, ts) {
		t.Errorf("tablespace file differs when read through the link")
	}
	fi, err := os.Stat(filepath.Join(root, "base/1/1259"))
	if err != nil || !fi.ModTime().Equal(testTime) {
		t.Errorf("base/1/1259 mtime %v (err %v), want %v", fi.ModTime(), err, testTime)
	}
}

func TestDirRefusesUnsafePaths(t *testing.T) {
	tests := []struct {
		name, path, tablespace string
	}{
		{"parent", "../x", ""},
		{"absolute", "/etc/x", ""},
		{"escape in the middle", "base/../../x", ""},
		{"dot", "./x", ""},
		{"empty element", "base//x", ""},
		{"tablespace escape", "pg_tblspc/16384/../../x", "16384"},
		{"tablespace mislabelled", "base/x", "16384"},
		{"through our link unlabelled", "pg_tblspc/16384/x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			root := filepath.Join(tmp, "data")
			var s testStream
			s.file(tt.path, tt.tablespace, []byte("pwned"), 8)
			d, err := NewDir(root, DirOptions{NoSync: true, Tablespaces: map[string]string{"16384": filepath.Join(tmp, "ts")}})
			if err != nil {
				t.Fatal(err)
			}
			err = putAll(t, d, s.pieces)
			if err == nil || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("err = %v, want one naming %q", err, tt.path)
			}
			if err := d.Abort(); err != nil {
				t.Fatal(err)
			}
			if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
				t.Errorf("left behind after Abort: %v", entries)
			}
		})
	}
}

// TestDirNeverFollowsLinksOut: replacing an earlier backup whose base is a link out of it
// removes the link, never what it leads to, and nothing is written through it.
func TestDirNeverFollowsLinksOut(t *testing.T) {
	tmp := t.TempDir()
	root, outside := filepath.Join(tmp, "data"), filepath.Join(tmp, "outside")
	writeTree(t, root, map[string]string{"PG_VERSION": "15\n", "backup_label": "old"})
	writeTree(t, outside, map[string]string{"precious": "mine"})
	if err := os.Symlink(outside, filepath.Join(root, "base")); err != nil {
		t.Fatal(err)
	}
	var s testStream
	s.file("base/x", "", []byte("new"), 8)
	d, err := NewDir(root, DirOptions{Force: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := putAll(t, d, s.pieces); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, outside); !slices.Equal(got, []string{". drwx------", "precious -rw-------"}) {
		t.Errorf("outside the destination after the run: %v", got)
	}
	if fi, err := os.Lstat(filepath.Join(root, "base")); err != nil || !fi.IsDir() {
		t.Errorf("base in the destination: %v, %v; want a directory of its own", fi, err)
	}
}

// writeTree makes dir holding files (slash paths to contents), directories made as needed.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDirForceRefuses: -f replaces an earlier backup only; any other non-empty directory is
// refused and left as it was.
func TestDirForceRefuses(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		force bool
		want  string
	}{
		{"not empty, no -f", map[string]string{"PG_VERSION": "15", "backup_label": "x"}, false, "use -f/--force or choose another"},
		{"not a backup", map[string]string{"keep.txt": "mine", "base/old/x": "y"}, true, "holds no backup"},
		{"a running server", map[string]string{"PG_VERSION": "15", "backup_label": "x", "postmaster.pid": "1"}, true, "postmaster.pid"},
		{"started as a cluster", map[string]string{"PG_VERSION": "15", "global/pg_control": "c", "backup_label.old": "x"}, true, "started as a cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			before := tree(t, root)
			_, err := NewDir(root, DirOptions{Force: tt.force})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if after := tree(t, root); !slices.Equal(after, before) {
				t.Errorf("refused destination changed:\n%v\nwas:\n%v", after, before)
			}
		})
	}
}

// earlierBackup is a plain backup as an earlier run leaves it, with files a new one may lack.
var earlierBackup = map[string]string{
	"PG_VERSION": "15\n", "backup_label": "old label", "backup_manifest": "{}", "tablespace_map": "1 /x",
	"global/pg_control": "old control", "base/1/1259": "old", "base/1/stale": "old",
	"pg_wal/000000010000000000000002": "old wal",
}

// TestDirForceReplaces: -f on an earlier backup leaves it whole when the run fails before any
// byte arrives; once bytes arrive the old pg_control, backup_label and backup_manifest are gone
// first, so a run failing then leaves nothing that starts or passes for complete, and a good run
// leaves no file of the earlier backup.
func TestDirForceReplaces(t *testing.T) {
	var s testStream
	s.content("PG_VERSION", []byte("15\n"))
	s.dir("base", "")
	s.dir("base/1", "")
	s.file("base/1/1259", "", pattern(1, 100), 64)
	s.content("backup_label", []byte("new label"))
	s.file("global/pg_control", "", pattern(2, 100), 64)

	t.Run("failed before any byte", func(t *testing.T) {
		root := t.TempDir()
		writeTree(t, root, earlierBackup)
		before := tree(t, root)
		d, err := NewDir(root, DirOptions{Force: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Abort(); err != nil {
			t.Fatal(err)
		}
		if after := tree(t, root); !slices.Equal(after, before) {
			t.Errorf("after Abort:\n%v\nwant the earlier backup:\n%v", after, before)
		}
	})
	t.Run("failed midway", func(t *testing.T) {
		root := t.TempDir()
		writeTree(t, root, earlierBackup)
		d, err := NewDir(root, DirOptions{Force: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := putAll(t, d, s.pieces[:1]); err != nil {
			t.Fatal(err)
		}
		for _, gone := range []string{"global/pg_control", "backup_label", "backup_manifest"} {
			if _, err := os.Stat(filepath.Join(root, gone)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s of the earlier backup still there once the new one started (err %v)", gone, err)
			}
		}
		if err := d.Abort(); err != nil {
			t.Fatal(err)
		}
		if got := tree(t, root); len(got) != 1 {
			t.Errorf("after Abort the directory holds %v, want nothing", got)
		}
	})
	t.Run("good run", func(t *testing.T) {
		root := t.TempDir()
		writeTree(t, root, earlierBackup)
		d, err := NewDir(root, DirOptions{Force: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := putAll(t, d, s.pieces); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(context.Background(), []byte("new manifest")); err != nil {
			t.Fatal(err)
		}
		want := []string{"PG_VERSION -rw-------", "backup_label -rw-------", "backup_manifest -rw-------",
			"base drwx------", "base/1 drwx------", "base/1/1259 -rw-------", "global drwx------", "global/pg_control -rw-------"}
		if got := tree(t, root); !slices.Equal(got[1:], want) {
			t.Errorf("after the run:\n%s\nwant only the new backup:\n%s", strings.Join(got[1:], "\n"), strings.Join(want, "\n"))
		}
		if got := readFile(t, filepath.Join(root, "backup_label")); string(got) != "new label" {
			t.Errorf("backup_label holds %q", got)
		}
	})
}

func TestDirAbortRemovesWhatItMade(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "a", "b", "data")
	made := filepath.Join(tmp, "ts-made")
	empty := filepath.Join(tmp, "ts-empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	want := tree(t, tmp)
	var s testStream
	s.dir("base", "")
	s.file("base/x", "", pattern(1, 100), 30)
	s.dir("pg_tblspc/1", "1")
	s.file("pg_tblspc/1/PG_15_1/5/1", "1", pattern(2, 100), 30)
	s.file("pg_tblspc/2/PG_15_1/5/1", "2", pattern(3, 100), 30) // no link entry: made on first use
	s.file("base/y", "", pattern(1, 100), 30)
	d, err := NewDir(root, DirOptions{Tablespaces: map[string]string{"1": made, "2": empty}})
	if err != nil {
		t.Fatal(err)
	}
	if err := putAll(t, d, s.pieces[:len(s.pieces)-2]); err != nil { // cut inside base/y
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "pg_tblspc/2")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("tablespace 2's link: %v %v", fi, err)
	}
	if err := d.Close(context.Background(), nil); err == nil {
		t.Fatal("Close inside a file succeeded")
	}
	if err := d.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, tmp); !slices.Equal(got, want) {
		t.Errorf("after Abort:\n%v\nwant:\n%v", got, want)
	}
}

func TestDirTablespaceChecks(t *testing.T) {
	tmp := t.TempDir()
	full := filepath.Join(tmp, "full")
	if err := os.MkdirAll(filepath.Join(full, "PG_15_1"), 0o700); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(tmp, "data")
	tests := []struct {
		name   string
		spaces map[string]string
		want   []string
	}{
		{"not empty", map[string]string{"16384": full}, []string{"tablespace 16384", full, "-T OLD=NEW"}},
		{"inside the data directory", map[string]string{"16384": filepath.Join(root, "ts")}, []string{"tablespace 16384", "overlaps"}},
		{"two on one directory", map[string]string{"1": filepath.Join(tmp, "x"), "2": filepath.Join(tmp, "x", "y")}, []string{"overlaps"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDir(root, DirOptions{Force: true, Tablespaces: tt.spaces})
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("err = %v, want one containing %q", err, w)
				}
			}
			if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("refused NewDir made the destination (err %v)", err)
			}
		})
	}

	// A tablespace the options do not map is refused when it shows up.
	d, err := NewDir(root, DirOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var s testStream
	s.dir("pg_tblspc/777", "777")
	if err := putAll(t, d, s.pieces); err == nil || !strings.Contains(err.Error(), "tablespace 777") {
		t.Fatalf("err = %v, want one naming tablespace 777", err)
	}
	d.Abort()
}

// TestDirWritesPgControlLast: global/pg_control, however it comes (fetched, or made and sent
// ahead of backup_label and the last WAL, as backup does), appears only after every
// other file, backup_manifest included, so that a directory cut short anywhere cannot start.
func TestDirWritesPgControlLast(t *testing.T) {
	control := pattern(4, 8192)
	tests := []struct {
		name string
		// control adds pg_control to the stream.
		control func(s *testStream)
		// blockManifest puts a directory where backup_manifest goes, so Close fails on it.
		blockManifest bool
	}{
		{"made, before backup_label", func(s *testStream) { s.content("global/pg_control", control) }, false},
		{"fetched, before backup_label", func(s *testStream) { s.file("global/pg_control", "", control, 4096) }, false},
		{"made, manifest fails", func(s *testStream) { s.content("global/pg_control", control) }, true},
		{"fetched, manifest fails", func(s *testStream) { s.file("global/pg_control", "", control, 4096) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "data")
			var s testStream
			s.dir("global", "")
			s.file("global/1262", "", pattern(1, 8192), 8192)
			tt.control(&s)
			s.content("backup_label", []byte("label"))
			s.file("pg_wal/000000010000000000000003", "", pattern(2, 20000), 8192)
			d, err := NewDir(root, DirOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := putAll(t, d, s.pieces); err != nil {
				t.Fatal(err)
			}
			controlPath := filepath.Join(root, "global", "pg_control")
			if _, err := os.Stat(controlPath); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("pg_control exists before Close (err %v); a directory cut short could start", err)
			}
			if tt.blockManifest {
				if err := os.Mkdir(filepath.Join(root, "backup_manifest"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := d.Close(context.Background(), []byte("{}\n")); err == nil {
					t.Fatal("Close succeeded with backup_manifest blocked")
				}
				if _, err := os.Stat(controlPath); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("pg_control written although backup_manifest failed (err %v)", err)
				}
				return
			}
			if err := d.Close(context.Background(), []byte("{}\n")); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, controlPath); !bytes.Equal(got, control) {
				t.Errorf("pg_control: %d bytes differ from the %d expected", len(got), len(control))
			}
			if got := readFile(t, filepath.Join(root, "backup_label")); string(got) != "label" {
				t.Errorf("backup_label holds %q", got)
			}
		})
	}
}
