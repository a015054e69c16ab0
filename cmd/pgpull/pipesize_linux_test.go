package main

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGrowPipe: a pipe on stdout (its write end) or on stdin (its read end) gets the buffer
// asked for; a regular file is left alone.
func TestGrowPipe(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(r, w *os.File) *os.File
	}{
		{"stdout's write end", func(_, w *os.File) *os.File { return w }},
		{"stdin's read end", func(r, _ *os.File) *os.File { return r }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()
			if size := pipeSize(t, w); size == 1<<20 {
				t.Fatalf("a new pipe already holds %d bytes; the test cannot tell", size)
			}
			growPipe(tc.end(r, w), 1<<20)
			if size := pipeSize(t, w); size != 1<<20 {
				t.Errorf("pipe buffer %d bytes; want %d", size, 1<<20)
			}
		})
	}
	t.Run("regular file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "out")
		file, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		growPipe(file, 1<<20)
		if _, err := file.WriteString("still writable"); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != "still writable" {
			t.Errorf("file holds %q after growPipe", got)
		}
	})
}

func pipeSize(t *testing.T, f *os.File) int {
	t.Helper()
	size, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return size
}
