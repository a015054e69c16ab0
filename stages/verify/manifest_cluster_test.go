package verify

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/testcluster"
	"github.com/pgpull/pgpull/pipeline"
)

// TestManifestMatchesPgBasebackup takes a backup with pg_basebackup, then rebuilds its
// backup_manifest from the backed-up files through a Checksummer and a Manifest (same order,
// sizes and times as the server's) and requires the same bytes; it also parses and re-serialises
// the server's manifest.
func TestManifestMatchesPgBasebackup(t *testing.T) {
	c := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if c.Major > 15 {
		t.Skipf("pg_basebackup 15 refuses servers newer than 15, and this one is %d", c.Major)
	}
	// A non-UTF-8 file name, as PostgreSQL's own test plants, to exercise Encoded-Path.
	if err := os.WriteFile(filepath.Join(c.DataDir, "FOO\xe0\xe0\xe0BAR"), []byte("odd name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bindir, err := testcluster.ClientBindir()
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "b")
	cmd := exec.Command(filepath.Join(bindir, "pg_basebackup"), "-d", c.DSN(), "-D", backup, "-X", "none", "-c", "fast", "--manifest-checksums=CRC32C")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}

	server, err := os.ReadFile(filepath.Join(backup, "backup_manifest"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := manifest.Parse(server)
	if err != nil {
		t.Fatalf("our parser rejects the server's manifest: %v", err)
	}
	if again := parsed.Bytes(); !bytes.Equal(again, server) {
		t.Fatalf("re-serialised manifest differs from the server's:\n%s\nserver:\n%s", again, server)
	}
	if len(parsed.Files) < 100 {
		t.Fatalf("only %d files in the server's manifest", len(parsed.Files))
	}
	if !bytes.Contains(server, []byte(`"Encoded-Path": "464f4fe0e0e0424152"`)) {
		t.Errorf("the server's manifest has no Encoded-Path for the non-UTF-8 file")
	}

	m := manifest.New(parsed.Version, parsed.SystemID, manifest.CRC32C)
	var ps []*pipeline.Piece
	for _, e := range parsed.Files {
		data, err := os.ReadFile(filepath.Join(backup, filepath.FromSlash(e.Path)))
		if err != nil {
			t.Fatal(err)
		}
		mtime, err := time.Parse(manifest.LastModifiedLayout, e.LastModified)
		if err != nil {
			t.Fatal(err)
		}
		f := &pipeline.File{Path: e.Path, Size: int64(len(data)), ModTime: mtime, Segment: -1}
		ps = append(ps, pieces(f, data, 1<<16)...)
	}
	in := make(chan *pipeline.Piece, len(ps))
	out := make(chan *pipeline.Piece, len(ps))
	for _, p := range ps {
		in <- p
	}
	close(in)
	if err := NewChecksummer(manifest.CRC32C, m).Run(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	for _, r := range parsed.WALRanges {
		m.AddWALRange(r.Timeline, r.Start, r.End)
	}
	if ours := m.Bytes(); !bytes.Equal(ours, server) {
		t.Errorf("our manifest differs from the server's:\n%s\nserver:\n%s", ours, server)
	}
}
