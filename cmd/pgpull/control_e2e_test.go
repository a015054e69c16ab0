package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgpull/pgpull/bench/cluster"
)

// TestPlainKilledAfterBackupLabel kills a plain-format backup the moment backup_label shows in
// DEST, while the WAL the backup needs is still coming: the directory must hold no
// global/pg_control, so that PostgreSQL refuses to start it rather than run crash recovery
// from a copy without its WAL. pg_control is written last, after everything else is on disk.
func TestPlainKilledAfterBackupLabel(t *testing.T) {
	src := cluster.ForTest(t, cluster.Options{Checksums: true})
	dest := filepath.Join(t.TempDir(), "copy")
	// The scanner sends no WAL before the backup stops, so two segments at most 4 MB/s follow
	// backup_label: seconds in which the run is still going.
	cmd := exec.Command(buildPgpull(t), "backup", "-c", "fast", "-r", "4M", "--wal-interval", "1h", src.DSN(), dest)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	label := filepath.Join(dest, "backup_label")
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(label); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("pgpull ended (%v) before backup_label showed in DEST:\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no backup_label in DEST after 2 minutes:\n%s", stderr.String())
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("pgpull already gone when backup_label showed (%v): nothing left to interrupt", err)
	}
	if err := <-exited; err == nil {
		t.Fatalf("pgpull finished before the kill: the test interrupted nothing\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dest, "global", "pg_control")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a run killed after backup_label left global/pg_control (err %v): the directory would start without its WAL", err)
	}
	checkServerClean(t, src)
}
