package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestWALFeedWarmStandbyGaps makes a gap in a warm standby's directory: the feed is stopped, its
// slot dropped, and the server removes the segment it needs next (the newest in DIR, which holds
// it partly). Restarted with --from-backup naming a backup older than the gap, the feed must fail
// in one line naming the first lost segment that backup needs, and the backup; naming a backup
// taken after the gap, it reports the gap and skips it, and a standby made from that backup
// replays rows written afterwards.
func TestWALFeedWarmStandbyGaps(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true, Conf: []string{"wal_keep_size = 0"}})
	if err := src.Exec(ctx, `CREATE TABLE after_backup (i int)`); err != nil {
		t.Fatal(err)
	}
	bin := buildPgpull(t)
	dir := serverGroupDir(t)
	args := []string{"--interval", "100ms", "-v", "--mode", "0640", "--warm-standby", "--slot", "warm"}
	feed := startFeed(t, bin, append(args, src.DSN(), dir)...)
	feedStart(t, feed)
	old := backupOf(t, src)
	insertRows(t, src, 1, 100)
	// The segment being written, copied: every one before it was copied finished.
	lost := writtenSegment(t, src).Name(1, walSegSize)
	waitForFiles(t, feed, dir, lost)
	feed.stop(t)
	if newest := newestSegment(t, dir); newest != lost {
		t.Fatalf("the newest segment in DIR is %s, want %s, the one being written", newest, lost)
	}
	if err := src.Exec(ctx, `SELECT pg_drop_replication_slot('warm')`); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the server to remove "+lost, func() (bool, error) {
		n, err := src.QueryInt(ctx, `SELECT count(*) FROM pg_ls_waldir() WHERE name = $1`, lost)
		if err != nil || n == 0 {
			return n == 0, err
		}
		return false, src.Exec(ctx, `INSERT INTO after_backup VALUES (0); SELECT pg_switch_wal(); CHECKPOINT`)
	})
	if err := src.Exec(ctx, `DELETE FROM after_backup WHERE i = 0`); err != nil {
		t.Fatal(err)
	}
	recent := backupOf(t, src)

	needed := max(lost, backupStartSegment(t, old))
	feed = startFeed(t, bin, append(args, "--from-backup", old, src.DSN(), dir)...)
	code, stderr := feed.exitCode(t), feed.stderr()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	for _, want := range []string{"WAL segment " + needed + " was removed", "the backup in " + old, "--from-backup"} {
		if code == 0 || !strings.Contains(last, want) {
			t.Errorf("exit %d, last line %q; want a failure saying %q", code, last, want)
		}
	}

	feed = startFeed(t, bin, append(args, "--from-backup", recent, src.DSN(), dir)...)
	waitForLine(t, feed, "WAL segments "+lost+" to ")
	restoreFromArchive(t, recent, "standby.signal", "restore_command = 'cp "+dir+"/%f %p'\n")
	standby := testcluster.AdoptForTest(t, recent)
	insertRows(t, src, 101, 200)
	waitForRows(t, standby, 200)
	feed.stop(t)
	if err := src.Exec(ctx, `SELECT pg_drop_replication_slot('warm')`); err != nil {
		t.Fatal(err)
	}
}

// backupStartSegment is the segment a plain backup starts in, by its backup_label.
func backupStartSegment(t *testing.T, dir string) string {
	t.Helper()
	label, err := os.ReadFile(filepath.Join(dir, "backup_label"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)`).FindSubmatch(label)
	if m == nil {
		t.Fatalf("backup_label names no start segment:\n%s", label)
	}
	return string(m[1])
}

// newestSegment is the name of the newest segment in dir.
func newestSegment(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if pgformat.IsSegmentName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatalf("no segment in %s", dir)
	}
	return slices.Max(names)
}

// exitCode waits up to two minutes for the feed to exit by itself, and returns its status.
func (p *feedProcess) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("pgpull wal still running after two minutes; want it to fail\n%s", p.stderr())
	}
	return p.cmd.ProcessState.ExitCode()
}
