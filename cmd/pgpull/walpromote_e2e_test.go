package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestWALFeedFollowsPromotion feeds two directories from a streaming standby: an archive for
// point-in-time recovery, and with --warm-standby the restore_command of a second standby made
// from a backup of the first. The first standby is promoted while both feeds run, starting
// timeline 2. The warm standby must follow onto it, replaying rows written there; the archive
// must hold the new timeline's history file and every segment of both timelines, so that a
// restore from a backup taken before the promotion reaches a target time set after it, and
// stops there.
func TestWALFeedFollowsPromotion(t *testing.T) {
	ctx := context.Background()
	primary := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if err := primary.Exec(ctx, `CREATE TABLE after_backup (i int)`); err != nil {
		t.Fatal(err)
	}
	source := testcluster.StandbyForTest(t, primary)
	setWALKeepSize(t, source, "1GB") // the feeds read it without a slot
	bin := buildPgpull(t)
	archive, warmDir := serverGroupDir(t), serverGroupDir(t)
	pitr := startFeed(t, bin, "--interval", "100ms", "-v", "--mode", "0640", source.DSN(), archive)
	first := feedStart(t, pitr)
	warm := startFeed(t, bin, "--interval", "100ms", "-v", "--mode", "0640", "--warm-standby", source.DSN(), warmDir)
	feedStart(t, warm)
	forPITR, forWarm := backupOf(t, source), backupOf(t, source)

	// The warm standby reads the feed's directory only: no streaming from the primary.
	restoreFromArchive(t, forWarm, "standby.signal", fmt.Sprintf("restore_command = 'cp %s/%%f %%p'\n", warmDir))
	follower := testcluster.AdoptForTest(t, forWarm)
	insertRows(t, primary, 1, 100)
	waitForRows(t, follower, 100)

	if err := source.Exec(ctx, `SELECT pg_promote()`); err != nil {
		t.Fatal(err)
	}
	insertRows(t, source, 101, 200)
	target, err := source.QueryString(ctx, `SELECT clock_timestamp()::text`)
	if err != nil {
		t.Fatal(err)
	}
	insertRows(t, source, 201, 300) // committed after the target: the restore must stop short of it
	if err := source.Exec(ctx, `SELECT pg_switch_wal()`); err != nil {
		t.Fatal(err)
	}
	waitForRows(t, follower, 300)

	// The archive: timeline 1 up to the switch, the history file, timeline 2 from the switch on.
	waitForFiles(t, pitr, archive, "00000002.history")
	switched := historySwitch(t, filepath.Join(archive, "00000002.history"))
	last := writtenSegment(t, source)
	var names []string
	for s := first; s < last; s++ {
		tli := uint32(2)
		if s < switched {
			tli = 1
		}
		names = append(names, s.Name(tli, walSegSize))
	}
	waitForFiles(t, pitr, archive, names...)
	pitr.stop(t)
	warm.stop(t)

	if n := rowsAtTarget(t, forPITR, "cp "+archive+"/%f %p", target); n != 200 {
		t.Errorf("restored to %s: %d rows, want the 200 written before it, across the promotion", target, n)
	}
}

// rowsAtTarget restores the backup in dir to the target time with restoreCommand, and returns
// the rows of after_backup once it has reached the target and promoted.
func rowsAtTarget(t *testing.T, dir, restoreCommand, target string) int64 {
	t.Helper()
	ctx := context.Background()
	conf := fmt.Sprintf("restore_command = '%s'\nrecovery_target_time = '%s'\nrecovery_target_action = 'promote'\n", restoreCommand, target)
	restoreFromArchive(t, dir, "recovery.signal", conf)
	restored := testcluster.AdoptForTest(t, dir)
	waitUntil(t, "the restore to reach its target and promote", func() (bool, error) {
		in, err := restored.QueryString(ctx, `SELECT pg_is_in_recovery()::text`)
		return in == "false", err
	})
	n, err := restored.QueryInt(ctx, `SELECT count(*) FROM after_backup`)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// backupOf takes a pgpull backup of c into a new directory and returns it.
func backupOf(t *testing.T, c *testcluster.Cluster) string {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "copy")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", c.DSN(), dest); code != 0 {
		t.Fatalf("pgpull backup failed (%d): %s", code, stderr)
	}
	return dest
}

// restoreFromArchive makes a standby's backup start with signal (standby.signal or
// recovery.signal) and conf, and no streaming from the standby's primary.
func restoreFromArchive(t *testing.T, dir, signal, conf string) {
	t.Helper()
	for _, f := range []string{"standby.signal", "recovery.signal"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, signal), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	conf = "primary_conninfo = ''\nwal_retrieve_retry_interval = '100ms'\n" + conf
	if err := appendConf(filepath.Join(dir, "postgresql.auto.conf"), conf); err != nil {
		t.Fatal(err)
	}
}

// insertRows adds rows from to to into after_backup on c.
func insertRows(t *testing.T, c *testcluster.Cluster, from, to int) {
	t.Helper()
	if err := c.Exec(context.Background(), `INSERT INTO after_backup SELECT generate_series($1::int, $2::int)`, from, to); err != nil {
		t.Fatal(err)
	}
}

// historySwitch is the segment a timeline history file says its timeline starts in.
func historySwitch(t *testing.T, path string) pgformat.Segment {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var parent int
	var lsn string
	if _, err := fmt.Sscanf(string(data), "%d\t%s", &parent, &lsn); err != nil {
		t.Fatalf("%s: %q: %v", path, data, err)
	}
	at, err := pgformat.ParseLSN(lsn)
	if err != nil {
		t.Fatal(err)
	}
	return pgformat.SegmentOf(at, walSegSize)
}
