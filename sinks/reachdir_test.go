package sinks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/s3store"
)

// TestReachDirectory: what a directory DEST is checked for before the server is touched, each
// refusal naming the full path, and nothing left behind by the check.
func TestReachDirectory(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	full := filepath.Join(base, "full")
	earlier := filepath.Join(base, "earlier")
	unfinished := filepath.Join(base, "unfinished")
	empty := filepath.Join(base, "empty")
	for _, d := range []string{full, earlier, unfinished, empty} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{file, filepath.Join(full, "mine"), filepath.Join(earlier, "PG_VERSION"),
		filepath.Join(earlier, "backup_label"), filepath.Join(unfinished, IncompleteMarker)} {
		if err := os.WriteFile(f, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		dest Destination
		err  string // a part of the error, "" for none
	}{
		{"absent", Destination{Location: filepath.Join(base, "new", "copy"), Format: Plain}, ""},
		{"empty", Destination{Location: empty, Format: TarDir}, ""},
		{"a stream", Destination{Location: "-", Format: Stream}, ""},
		{"below a file", Destination{Location: filepath.Join(file, "copy"), Format: Plain}, "cannot create destination " + filepath.Join(file, "copy") + ": " + file + " is not a directory"},
		{"a file", Destination{Location: file, Format: Plain}, "destination " + file + " exists and is not a directory"},
		{"not empty", Destination{Location: full, Format: Plain}, `"` + full + `" exists and is not empty`},
		{"-f over no backup", Destination{Location: full, Format: Plain, Force: true}, "holds no backup"},
		{"-f over an earlier backup", Destination{Location: earlier, Format: Plain, Force: true}, ""},
		{"--refresh of an unfinished backup", Destination{Location: unfinished, Format: Plain, Refresh: true}, ""},
		{"--refresh of no backup", Destination{Location: full, Format: Plain, Refresh: true}, "cannot refresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.dest.Reach(context.Background(), s3store.Config{}, 0)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Reach: %v; want %q", err, tt.err)
			}
		})
	}
	probes, _ := filepath.Glob(filepath.Join(base, "*", ".pgpull-probe-*"))
	top, _ := filepath.Glob(filepath.Join(base, ".pgpull-probe-*"))
	if left := append(probes, top...); len(left) != 0 {
		t.Errorf("probes left behind: %v", left)
	}
	if _, err := os.Stat(filepath.Join(base, "new")); !os.IsNotExist(err) {
		t.Errorf("checking an absent DEST made its parent (%v)", err)
	}
}
