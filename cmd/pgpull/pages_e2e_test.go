package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestPagesCorruptBlockReported damages one page of a table on disk, as a failing disk would,
// and checks that a backup still completes but names the file and block and exits non-zero,
// and that --no-verify-checksums takes the same backup with exit 0.
func TestPagesCorruptBlockReported(t *testing.T) {
	ctx := context.Background()
	c := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	// No autovacuum: it would try to read the damaged page and fill the log with errors.
	for _, sql := range []string{
		`CREATE TABLE damaged WITH (autovacuum_enabled = off) AS SELECT g, md5(g::text) AS pad FROM generate_series(1, 5000) g`,
		`CHECKPOINT`,
	} {
		if err := c.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	rel, err := c.QueryString(ctx, `SELECT pg_relation_filepath('damaged')`)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// Bytes in the middle of block 1: tuple data, not the header, so pd_lsn stays older than
	// the backup's start and the page must be checked.
	const block = 1
	damagePage(t, filepath.Join(c.DataDir, rel), block*8192+4096, 16)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}

	base := t.TempDir()
	checked := filepath.Join(base, "checked")
	code, stderr := pgpull(t, nil, "backup", "-c", "fast", c.DSN(), checked)
	if code == 0 {
		t.Errorf("backup of a cluster with a corrupt page exited 0, want non-zero")
	}
	if !strings.Contains(stderr, `"`+rel+`", block 1:`) {
		t.Errorf("stderr does not name %s block %d:\n%s", rel, block, stderr)
	}
	for _, name := range []string{"backup_label", "backup_manifest"} {
		if _, err := os.Stat(filepath.Join(checked, name)); err != nil {
			t.Errorf("the backup should complete despite the corrupt page: %v", err)
		}
	}

	unchecked := filepath.Join(base, "unchecked")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", "--no-verify-checksums", c.DSN(), unchecked); code != 0 {
		t.Errorf("backup with --no-verify-checksums: exit %d, want 0:\n%s", code, stderr)
	}
}

// damagePage inverts n bytes of the file at p from offset off, keeping its mode and owner.
func damagePage(t *testing.T, p string, off, n int) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, int64(off)); err != nil {
		t.Fatalf("%s: reading %d bytes at %d: %v", p, n, off, err)
	}
	for i := range buf {
		buf[i] ^= 0xFF
	}
	if _, err := f.WriteAt(buf, int64(off)); err != nil {
		t.Fatal(err)
	}
}
