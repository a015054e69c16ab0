package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupFromStandby takes the backup from a streaming replica while the primary is under
// pgbench load. A standby's backup ends at the minimum recovery point recorded in the
// global/pg_control it copied, which is why that file must be read after every other.
func TestBackupFromStandby(t *testing.T) {
	ctx := context.Background()
	primary := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	replica := testcluster.StandbyForTest(t, primary)
	addUnlogged(t, primary)
	load := loadPgbench(t, primary, "5")
	if in, err := replica.QueryString(ctx, `SELECT pg_is_in_recovery()::text`); err != nil || in != "true" {
		t.Fatalf("replica in recovery: %q, %v", in, err)
	}

	dest := filepath.Join(t.TempDir(), "copy")
	code, stderr := pgpull(t, nil, "backup", "-j", "4", "-c", "fast", "-v", replica.DSN(), dest)
	load.stop(t)
	if code != 0 {
		t.Fatalf("pgpull backup of the standby failed (%d): %s", code, stderr)
	}
	// Come up on its own rather than follow the primary: recovery replays what the backup holds.
	if err := os.Remove(filepath.Join(dest, "standby.signal")); err != nil {
		t.Fatalf("the standby's backup has no standby.signal: %v", err)
	}
	checkRestored(t, testcluster.AdoptForTest(t, dest))
}
