package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestRestoreRefusals: each bad source or place is refused in one line with a non-zero exit,
// leaving nothing that could start and nothing of the user's changed: a truncated stream, a
// flipped byte, members named ../x and /etc/x, a DIR a running server uses (with and without
// --delta), a DIR that is not empty, --delta on a directory that holds no data directory.
func TestRestoreRefusals(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	base := t.TempDir()
	stream := filepath.Join(base, "base.tar")
	streamBackup(t, stream, "-c", "fast", src.DSN())
	full, err := os.ReadFile(stream)
	if err != nil {
		t.Fatal(err)
	}
	spoilt := func(name string, b []byte) string {
		p := filepath.Join(base, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := bytes.Clone(full)
	flipped[memberOffset(t, full, "global/1262")+100] ^= 0xFF
	occupied := filepath.Join(base, "occupied")
	if err := os.MkdirAll(filepath.Join(occupied, "mine"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/etc/x"); err == nil {
		t.Fatal("/etc/x exists before the test; it checks that a restore does not make it")
	}

	tests := []struct {
		name  string
		args  []string
		want  string
		dir   string // the DIR given; "" for base/out, which must not be there afterwards
		keeps string // a file in dir that must still be there
	}{
		{"truncated stream", []string{spoilt("cut.tar", full[:len(full)/2])}, "truncated stream", "", ""},
		{"flipped byte", []string{spoilt("flipped.tar", flipped)}, "global/1262: checksum mismatch", "", ""},
		{"member ../x", []string{spoilt("climb.tar", tarOf(t, "../x"))}, `"../x", which would land outside`, "", ""},
		{"member /etc/x", []string{spoilt("abs.tar", tarOf(t, "/etc/x"))}, `"/etc/x", which would land outside`, "", ""},
		{"DIR of a running server", []string{stream}, "a server runs from", src.DataDir, "PG_VERSION"},
		{"DIR of a running server, --delta", []string{"--delta", stream}, "a server runs from", src.DataDir, "PG_VERSION"},
		{"DIR not empty", []string{stream}, "is not empty", occupied, "mine"},
		{"--delta on no data directory", []string{"--delta", stream}, "holds no data directory", occupied, "mine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = filepath.Join(base, "out")
			}
			code, stderr := runCLI(t, nil, append(append([]string{"restore"}, tt.args...), dir)...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, %q; want a refusal mentioning %q", code, stderr, tt.want)
			}
			checkOneLine(t, stderr)
			if tt.dir == "" {
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("the refused restore left %s behind (%v)", dir, err)
				}
			} else if _, err := os.Stat(filepath.Join(dir, tt.keeps)); err != nil {
				t.Errorf("the refused restore changed %s: %v", dir, err)
			}
			for _, p := range []string{filepath.Join(base, "x"), "/etc/x", filepath.Join(src.DataDir, "pgpull_incomplete")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("the refused restore made %s", p)
				}
			}
		})
	}
	if !src.Running(t.Context()) {
		t.Error("the source server stopped")
	}
}

// memberOffset is where the bytes of member name begin in the tar archive b.
func memberOffset(t *testing.T, b []byte, name string) int64 {
	t.Helper()
	r := bytes.NewReader(b)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("no member %s in the archive", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			return int64(len(b)) - int64(r.Len())
		}
	}
}

// tarOf is a tar archive holding PG_VERSION and one more file, named as given.
func tarOf(t *testing.T, name string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range []string{"PG_VERSION", name} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o600, Size: 3}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte("15\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
