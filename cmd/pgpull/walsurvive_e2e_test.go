package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestWALFeedSurvivesBackups runs the routine that used to kill the feed: the role pgpull grants
// prints, a server at the default wal_keep_size = 0, and a round of 8 concurrent
// `pgpull backup -c fast` by that role, with WAL switches between. Without a slot the feed must
// refuse to start, naming the fixes; left to run anyway (--accept-gaps) it loses segments to the
// backups' checkpoints, which shows the round is a real threat; with the wal_keep_size it advised
// it survives the round with every segment in DIR; and so it does with --slot and wal_keep_size 0.
func TestWALFeedSurvivesBackups(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true, Conf: []string{"wal_keep_size = 0"}})
	if err := src.Exec(ctx, `CREATE TABLE churn (i int)`); err != nil {
		t.Fatal(err)
	}
	role := grantedRole(t, src, "feeder")
	dsn := roleDSN(src, role)
	bin := buildPgpull(t)

	keep, line := advisedKeep(t, dsn)
	if !strings.Contains(line, `ALTER ROLE "feeder" REPLICATION`) || !strings.Contains(line, "--slot NAME, which needs REPLICATION") {
		t.Errorf("refusal %q does not say what --slot needs of role feeder", line)
	}

	t.Run("wal_keep_size 0, --accept-gaps: the round removes segments", func(t *testing.T) {
		dir := t.TempDir()
		feed := startFeed(t, bin, "--interval", "3s", "-v", "--accept-gaps", dsn, dir)
		feedStart(t, feed)
		backupRound(t, bin, src, dsn, 8)
		waitForLine(t, feed, "were removed from the server's pg_wal before they were copied: skipped")
		feed.stop(t)
	})

	t.Run("advised wal_keep_size "+keep, func(t *testing.T) {
		setWALKeepSize(t, src, keep)
		feedsThroughRound(t, bin, src, dsn)
	})

	t.Run("--slot, wal_keep_size 0", func(t *testing.T) {
		setWALKeepSize(t, src, "0")
		if err := src.Exec(ctx, `ALTER ROLE feeder REPLICATION`); err != nil { // the optional line of grants
			t.Fatal(err)
		}
		feedsThroughRound(t, bin, src, dsn, "--slot", "routine")
		if err := src.Exec(ctx, `SELECT pg_drop_replication_slot('routine')`); err != nil {
			t.Fatal(err)
		}
	})
}

// feedsThroughRound runs a feed, with its default interval and args, through a round of 8
// backups, and checks that every segment finished from its start on is in DIR and it reported
// no lost segment.
func feedsThroughRound(t *testing.T, bin string, src *testcluster.Cluster, dsn string, args ...string) {
	t.Helper()
	dir := t.TempDir()
	feed := startFeed(t, bin, append(append([]string{"-v"}, args...), dsn, dir)...)
	first := feedStart(t, feed)
	if codes := backupRound(t, bin, src, dsn, 8); strings.Trim(codes, "0 ") != "" {
		t.Errorf("backups beside the feed exited %s; want all 0", codes)
	}
	last := writtenSegment(t, src)
	waitForFiles(t, feed, dir, segmentRange(first, last)...)
	feed.stop(t)
	if out := feed.stderr(); strings.Contains(out, "removed") || strings.Contains(out, "falling behind") {
		t.Errorf("the feed lost or nearly lost WAL:\n%s", out)
	}
	t.Logf("%d segments from %s to %s, all in DIR", last-first, first.Name(1, walSegSize), (last-1).Name(1, walSegSize))
}

// backupRound runs n `pgpull backup -c fast` at once as dsn's role, with a WAL switch (after a
// row, so that it finishes a segment) after each start and after each end, and returns their
// exit codes.
func backupRound(t *testing.T, bin string, src *testcluster.Cluster, dsn string, n int) string {
	t.Helper()
	ctx := context.Background()
	switchWAL := func() {
		t.Helper()
		if err := src.Exec(ctx, `INSERT INTO churn VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		if err := src.Exec(ctx, `SELECT pg_switch_wal()`); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan int, n)
	for i := range n {
		cmd := exec.Command(bin, "backup", "-c", "fast", dsn, filepath.Join(t.TempDir(), fmt.Sprint("copy", i)))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = cmd.Wait(); done <- cmd.ProcessState.ExitCode() }()
		switchWAL()
	}
	codes := make([]string, n)
	for i := range n {
		codes[i] = fmt.Sprint(<-done)
		switchWAL()
	}
	t.Logf("%d backups exited %s", n, strings.Join(codes, " "))
	return strings.Join(codes, " ")
}
