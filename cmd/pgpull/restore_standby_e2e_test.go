package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestRestoreStandby: --standby --primary-conninfo makes the restored copy a standby that streams
// from the primary, as pg_basebackup -R would, and rows written on the primary reach it.
func TestRestoreStandby(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	mustExec(t, src, `CREATE TABLE after_backup (i int)`)
	stream := filepath.Join(t.TempDir(), "base.tar.zst")
	streamBackup(t, stream, "-c", "fast", "-Z", "zstd", src.DSN())
	dir := filepath.Join(t.TempDir(), "standby")
	restoreOK(t, "--standby", "--primary-conninfo", src.DSN()+" application_name=restored", stream, dir)
	for name, want := range map[string]bool{"standby.signal": true, "recovery.signal": false} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s in the restored directory: %v, want it there: %v", name, err, want)
		}
	}
	r := testcluster.AdoptForTest(t, dir)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := src.WaitStreaming(wctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, src, `INSERT INTO after_backup SELECT generate_series(1, 100)`)
	waitForRows(t, r, 100)
}
