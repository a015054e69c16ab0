package combine

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOutputPlaces checks where Combine agrees to write: an absent or empty directory, never one
// with contents, nor one that overlaps a backup of the chain, its tablespaces or another output.
func TestOutputPlaces(t *testing.T) {
	tests := []struct {
		name    string
		out     func(root string) string
		spc     func(root string) string
		prepare func(t *testing.T, root string)
		want    string // "" for success
	}{
		{name: "absent", out: join("out")},
		{name: "empty", out: join("out"), prepare: func(t *testing.T, root string) { mkdir(t, filepath.Join(root, "out")) }},
		{name: "not empty", out: join("out"), prepare: func(t *testing.T, root string) { writeFile(t, filepath.Join(root, "out", "keep"), nil) },
			want: "exists and is not empty"},
		{name: "inside a backup", out: join("b2", "out"), want: "overlaps the backup"},
		{name: "holding the backups", out: join(""), want: "overlaps the backup"},
		{name: "tablespace inside the output", spc: join("out", "spc"), want: "overlaps tablespace 16400's output directory"},
		{name: "tablespace into a backup's tablespace", spc: join("b0_spc"), want: "overlaps the backup (or tablespace)"},
		{name: "tablespace not empty", prepare: func(t *testing.T, root string) { writeFile(t, filepath.Join(root, "out_spc", "keep"), nil) },
			want: "tablespace 16400's output directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			c := synthChain(root)
			withIncrementals(t, c)
			dirs := writeChain(t, root, c)
			if tt.prepare != nil {
				tt.prepare(t, root)
			}
			out, spc := filepath.Join(root, "out"), filepath.Join(root, "out_spc")
			if tt.out != nil {
				out = tt.out(root)
			}
			if tt.spc != nil {
				spc = tt.spc(root)
			}
			err := Combine(dirs, out, Options{Tablespaces: map[string]string{synthSpcOID: spc}, NoSync: true})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(out, controlPath)); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
			if _, err := os.Lstat(filepath.Join(out, incompleteMarker)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the refused output was written into (%v)", err)
			}
		})
	}
}

func join(elem ...string) func(string) string {
	return func(root string) string { return filepath.Join(append([]string{root}, elem...)...) }
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

// TestOutputRollback checks what a failed run leaves: nothing of the directories it made, and
// the directories that were there empty emptied again; and that until finish, the data directory
// holds the marker.
func TestOutputRollback(t *testing.T) {
	root := t.TempDir()
	out, spc := filepath.Join(root, "out"), filepath.Join(root, "spc")
	mkdir(t, spc) // there before, empty: it must stay
	o, err := newOutput(out, map[string]string{"16400": spc}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.create(time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, incompleteMarker)); err != nil {
		t.Fatalf("no marker after create: %v", err)
	}
	if err := o.mkdir(o.path("pg_tblspc/16400/PG_17_1")); err != nil {
		t.Fatal(err)
	}
	if err := o.writeFile(o.path("pg_tblspc/16400/PG_17_1/x"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(spc, "PG_17_1", "x")); err != nil {
		t.Fatalf("a linked tablespace's file is not under its output directory: %v", err)
	}
	if err := o.rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the data directory Combine made is still there (%v)", err)
	}
	des, err := os.ReadDir(spc)
	if err != nil || len(des) != 0 {
		t.Errorf("the tablespace directory that was there empty holds %d entries (%v); want it kept, empty", len(des), err)
	}
}
