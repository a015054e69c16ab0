package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupWithoutSlotLosesWAL backs up, as the role pgpull grants prints (no REPLICATION, so
// no slot holds WAL), a server that keeps almost no WAL, while pgbench writes and the test
// checkpoints until the server has recycled the segment the backup started in. Whichever way the
// race goes, pgpull must not exit 0 with a backup that does not restore: either it fails naming
// the segment and the remedy, or its backup restores consistent.
func TestBackupWithoutSlotLosesWAL(t *testing.T) {
	ctx := context.Background()
	const segSize = 1 << 20
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true, WALSegSizeMB: 1, Conf: []string{
		"max_wal_size = 32MB", "min_wal_size = 4MB", "wal_keep_size = 0", "checkpoint_timeout = 30s"}})
	load := loadPgbench(t, src, "5")
	role := grantedRole(t, src, "bk")
	if repl, err := src.QueryString(ctx, `SELECT rolreplication::text FROM pg_roles WHERE rolname = $1`, role); err != nil || repl != "false" {
		t.Fatalf("role %s has REPLICATION %q (%v); the test needs a backup no slot protects", role, repl, err)
	}
	dest := filepath.Join(t.TempDir(), "copy")

	// Some 90 MB at 4 MB/s: the copy lasts long enough for the checkpoints below to recycle
	// the start segment while it runs.
	started, done, start, tli := startWatchedBackup(t, "backup", "-v", "-c", "fast", "-r", "4M", roleDSN(src, role), dest)
	startSeg := filepath.Join(src.DataDir, "pg_wal", pgformat.SegmentOf(start, segSize).Name(tli, segSize))

	// Checkpoint while pgbench writes until the start segment is gone from pg_wal (removed, or
	// renamed for reuse), and note whether that happened before pgpull ended.
	code, recycledInRun, checkpoints := -1, false, 0
	deadline := time.After(80 * time.Second)
	for code < 0 {
		select {
		case code = <-done:
			continue
		case <-deadline:
			t.Fatalf("pgpull still running after 80 s; %d checkpoints, start segment recycled: %v\n%s", checkpoints, recycledInRun, started.String())
		default:
		}
		if slots, err := src.QueryInt(ctx, `SELECT count(*) FROM pg_replication_slots`); err != nil || slots != 0 {
			t.Fatalf("%d replication slots during a backup by a role without REPLICATION (%v)", slots, err)
		}
		if recycledInRun {
			time.Sleep(100 * time.Millisecond) // only polling for pgpull's end now
			continue
		}
		if _, err := os.Stat(startSeg); os.IsNotExist(err) {
			recycledInRun = true
			continue
		}
		if err := src.Exec(ctx, `CHECKPOINT`); err != nil {
			t.Fatal(err)
		}
		checkpoints++
	}
	load.stop(t)
	out := started.String()
	t.Logf("pgpull backup -> exit %d after %d checkpoints; start segment %s recycled before pgpull ended: %v\n%s",
		code, checkpoints, filepath.Base(startSeg), recycledInRun, out)
	if !recycledInRun {
		t.Errorf("the server kept the start segment %s through the run: no WAL was lost, so the test proved nothing", filepath.Base(startSeg))
	}
	checkServerClean(t, src)

	if code != 0 {
		t.Logf("branch: pgpull refused the backup (WAL lost)")
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		last := lines[len(lines)-1]
		if !regexp.MustCompile(`^pgpull: .*\b[0-9A-F]{24}\b`).MatchString(last) {
			t.Errorf("last line %q names no WAL segment", last)
		}
		for _, want := range []string{"REPLICATION", "wal_keep_size"} {
			if !strings.Contains(last, want) {
				t.Errorf("last line %q does not give the remedy %q", last, want)
			}
		}
		checkGone(t, dest) // no half backup that could pass for one
		return
	}
	t.Logf("branch: pgpull copied the WAL in time and exited 0; the backup must restore")
	r := testcluster.AdoptForTest(t, dest)
	if err := r.CheckTPCB(ctx); err != nil {
		t.Error(err)
	}
	if err := r.Amcheck(ctx); err != nil {
		t.Error(err)
	}
}
