package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// s3Outage is how long TestWALFeedS3 keeps the store down: the scenario's length, not a wait for
// anything.
const s3Outage = 30 * time.Second

// TestWALFeedS3 feeds an S3 archive, zstd-compressed, with a slot, and stops the store for 30 s
// while the server writes and switches WAL. The feed must say the store does not answer, wait,
// and catch up once it is back: every segment finished since the feed started is then an
// object, and none is partial. pgpull wal-get gives back a segment byte for byte, and fails in
// one line for a file the archive lacks; a restore from a backup taken beside the feed, whose
// restore_command is pgpull wal-get, reaches a target time set after the outage, and stops there.
func TestWALFeedS3(t *testing.T) {
	ctx := context.Background()
	srv := s3Store(t)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/pgpull/aws-config") // the restore's postgres user reads no root's file
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true, Conf: []string{"wal_keep_size = 0"}})
	if err := src.Exec(ctx, `CREATE TABLE after_backup (i int)`); err != nil {
		t.Fatal(err)
	}
	bin := serverReadableCopy(t, buildPgpull(t))
	location := "s3://" + s3Bucket + "/wal"
	feed := startFeed(t, bin, "--interval", "100ms", "-v", "--slot", "tos3", "--compress", "zstd", "--s3-endpoint", srv.Endpoint(), src.DSN(), location)
	first := feedStart(t, feed)
	base := backupOf(t, src)
	insertRows(t, src, 1, 100)
	switchWAL(t, src)

	srv.Stop()
	down := time.Now()
	tick := time.NewTicker(s3Outage / 10)
	for i := 0; time.Since(down) < s3Outage; i++ { // segments the slot must hold meanwhile
		insertRows(t, src, 101+i, 101+i)
		switchWAL(t, src)
		if i == 0 { // a finished segment to store, which the feed cannot
			waitForLine(t, feed, "did not answer")
		}
		<-tick.C
	}
	tick.Stop()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitForLine(t, feed, "answers again")
	if err := src.Exec(ctx, `DELETE FROM after_backup WHERE i > 100`); err != nil {
		t.Fatal(err)
	}
	insertRows(t, src, 101, 200)
	target, err := src.QueryString(ctx, `SELECT clock_timestamp()::text`)
	if err != nil {
		t.Fatal(err)
	}
	insertRows(t, src, 201, 300) // committed after the target: the restore must stop short of it
	switchWAL(t, src)
	last := writtenSegment(t, src)
	waitForObjects(t, feed, srv.Endpoint(), location, first, last)
	feed.stop(t)
	if err := src.Exec(ctx, `SELECT pg_drop_replication_slot('tos3')`); err != nil {
		t.Fatal(err)
	}

	got := filepath.Join(t.TempDir(), "segment")
	name := (last - 1).Name(1, walSegSize)
	if code, stderr := pgpull(t, nil, "wal-get", "--s3-endpoint", srv.Endpoint(), location, name, got); code != 0 {
		t.Fatalf("pgpull wal-get %s failed (%d): %s", name, code, stderr)
	}
	sameFile(t, got, filepath.Join(src.DataDir, "pg_wal", name))
	code, stderr := pgpull(t, nil, "wal-get", "--s3-endpoint", srv.Endpoint(), location, "00000009.history", got)
	if code != 1 || !strings.Contains(stderr, "not in the archive") {
		t.Errorf("wal-get of a file the archive lacks: exit %d, %q; want 1 and a line saying so", code, stderr)
	}
	checkOneLine(t, stderr)

	get := fmt.Sprintf("%s wal-get --s3-endpoint %s %s %%f %%p", bin, srv.Endpoint(), location)
	if n := rowsAtTarget(t, base, get, target); n != 200 {
		t.Errorf("restored to %s: %d rows, want the 200 written before it", target, n)
	}
}

// waitForObjects waits until every segment from first up to end is an object under location,
// zstd-compressed, and fails t on any object holding a partial segment.
func waitForObjects(t *testing.T, feed *feedProcess, endpoint, location string, first, end pgformat.Segment) {
	t.Helper()
	st := s3Open(t, endpoint, location)
	waitUntil(t, fmt.Sprintf("segments %s to %s in %s", first.Name(1, walSegSize), (end-1).Name(1, walSegSize), location), func() (bool, error) {
		select {
		case <-feed.exited:
			return false, fmt.Errorf("pgpull wal exited:\n%s", feed.stderr())
		default:
		}
		names, err := st.Names(context.Background())
		if err != nil {
			return false, err
		}
		held := map[string]bool{}
		for _, n := range names {
			if strings.Contains(n, "partial") {
				return false, fmt.Errorf("object %s holds a partial segment", n)
			}
			held[n] = true
		}
		for s := first; s < end; s++ {
			if !held[s.Name(1, walSegSize)+".zst"] {
				return false, nil
			}
		}
		return true, nil
	})
}

func switchWAL(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	if err := c.Exec(context.Background(), `SELECT pg_switch_wal()`); err != nil {
		t.Fatal(err)
	}
}

// serverReadableCopy copies the program at bin where the server's OS user may run it, as a
// restore_command.
func serverReadableCopy(t *testing.T, bin string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgpull-bin-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(dir, "pgpull")
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
