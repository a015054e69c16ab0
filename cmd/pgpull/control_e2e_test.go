package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestPlainKilledAfterBackupLabel kills a plain-format backup the moment backup_label shows in
// DEST, while the WAL the backup needs is still coming: the directory must hold no
// global/pg_control, so that PostgreSQL refuses to start it rather than run crash recovery
// from a copy without its WAL. pg_control is written last, after everything else is on disk.
func TestPlainKilledAfterBackupLabel(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	dest := filepath.Join(t.TempDir(), "copy")
	// The scanner sends no WAL before the backup stops, so two segments at most 4 MB/s follow
	// backup_label: seconds in which the run is still going.
	label := filepath.Join(dest, "backup_label")
	killWhen(t, buildPgpull(t), func() bool { return exists(label) },
		"backup", "-c", "fast", "-r", "4M", "--wal-interval", "1h", src.DSN(), dest)
	if _, err := os.Stat(filepath.Join(dest, "global", "pg_control")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a run killed after backup_label left global/pg_control (err %v): the directory would start without its WAL", err)
	}
	checkServerClean(t, src)
}
