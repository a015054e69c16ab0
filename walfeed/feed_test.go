package walfeed

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
)

func TestCopyStateStale(t *testing.T) {
	ctime := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		last copyState
		now  time.Time // the file's ctime in this listing
		want bool
	}{
		{"unchanged, copied long after its last change", copyState{ctime: ctime, at: ctime.Add(3 * time.Second)}, ctime, false},
		{"ctime moved", copyState{ctime: ctime, at: ctime.Add(5 * time.Second)}, ctime.Add(time.Second), true},
		{"copied within the second of a change", copyState{ctime: ctime, at: ctime.Add(300 * time.Millisecond)}, ctime, true},
	}
	for _, tt := range tests {
		if got := tt.last.stale(tt.now); got != tt.want {
			t.Errorf("%s: stale = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDirScan checks where a restarted feed resumes: after the newest segment under its final
// name, whatever partial copies and other files lie around.
func TestDirScan(t *testing.T) {
	const size = 16 << 20
	tests := []struct {
		name  string
		files []string
		want  dirState
	}{
		{"empty", nil, dirState{}},
		{"finished and partial", []string{"000000010000000000000003", "000000010000000000000004.partial", "00000002.history", ".000000010000000000000005.pgpull-tmp"},
			dirState{any: true, newest: 3, tli: 1, anyPartial: true, oldestPartial: 4}},
		{"newest across a log boundary and a timeline", []string{"0000000100000000000000FF", "000000020000000100000000", "000000010000000100000000"},
			dirState{any: true, newest: 256, tli: 2}},
		{"only partial", []string{"000000010000000000000007.partial"}, dirState{anyPartial: true, oldestPartial: 7}},
		{"compressed copies, as an S3 archive holds them", []string{"000000010000000000000003.zst", "000000010000000000000004.gz", "00000002.history.zst"},
			dirState{any: true, newest: 4, tli: 1}},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		for _, f := range tt.files {
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		got, err := NewDirArchive(dir, 0o600).scan(context.Background(), size)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s: scan = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestWriteDurably checks that a finished copy replaces the partial one, with the mode asked for
// whatever the umask, and leaves no temporary file.
func TestWriteDurably(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o077))
	dir := t.TempDir()
	name := pgformat.Segment(3).Name(1, 16<<20)
	if err := writeDurably(dir, name+partialSuffix, []byte("half"), 0o640, ""); err != nil {
		t.Fatal(err)
	}
	if err := writeDurably(dir, name, []byte("whole"), 0o640, name+partialSuffix); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		t.Fatalf("directory holds %v, want only %s", entries, name)
	}
	st, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	if err := writeDurably(dir, "../escape", nil, 0o600, ""); err == nil {
		t.Error("a name with a slash was written")
	}
}

// TestDirHeldWhole: a directory holds a segment whole when it is there and not past the newest
// one noted whole: in warm standby mode a newer file may hold a segment being written.
func TestDirHeldWhole(t *testing.T) {
	ctx := context.Background()
	const size = 16 << 20
	dir := t.TempDir()
	a := NewDirArchive(dir, 0o600)
	name := func(s pgformat.Segment) string { return s.Name(1, size) }
	for _, s := range []pgformat.Segment{4, 5, 6} {
		if err := os.WriteFile(filepath.Join(dir, name(s)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if held, err := a.heldWhole(ctx, name(4)); held || err != nil {
		t.Errorf("before any note: held %v, %v; want false", held, err)
	}
	if err := a.noteWhole(ctx, name(5)); err != nil {
		t.Fatal(err)
	}
	for s, want := range map[pgformat.Segment]bool{3: false, 4: true, 5: true, 6: false} {
		if held, err := a.heldWhole(ctx, name(s)); held != want || err != nil {
			t.Errorf("segment %d: held %v, %v; want %v", s, held, err, want)
		}
	}
}
