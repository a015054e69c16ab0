package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupTarCompressedRestores takes -F tar backups compressed with gzip:1 and zstd under
// pgbench load, extracts base.tar.gz and base.tar.zst with GNU tar as a user would, and starts
// the copies: they must recover consistent (pgbench sums, amcheck, unlogged table empty).
func TestBackupTarCompressedRestores(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	addUnlogged(t, src)
	load := loadPgbench(t, src, "2")
	base := t.TempDir()
	tests := []struct {
		compress, archive string
		untar             []string // GNU tar's options to read the archive
	}{
		{"gzip:1", "base.tar.gz", []string{"-xzf"}},
		{"zstd", "base.tar.zst", []string{"--zstd", "-xf"}},
	}
	for _, tt := range tests {
		dest := filepath.Join(base, tt.compress)
		if code, stderr := pgpull(t, nil, "backup", "-F", "tar", "-Z", tt.compress, "-c", "fast", src.DSN(), dest); code != 0 {
			t.Fatalf("pgpull backup -F tar -z %s failed (%d): %s", tt.compress, code, stderr)
		}
	}
	load.stop(t)
	for _, tt := range tests {
		t.Run(tt.compress, func(t *testing.T) {
			dir := filepath.Join(base, tt.compress+"-restored")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			args := append(tt.untar, filepath.Join(base, tt.compress, tt.archive), "-C", dir)
			if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
				t.Fatalf("tar %v: %v\n%s", args, err, out)
			}
			checkRestored(t, testcluster.AdoptForTest(t, dir))
		})
	}
}
