package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pgpull/pgpull/bench/cluster"
)

// TestWALFeed runs `pgpull wal` beside a server that writes and switches WAL: every segment
// the server finished while the feed ran must be in DIR, byte for byte, and the feed must stop
// cleanly on SIGINT.
func TestWALFeed(t *testing.T) {
	ctx := context.Background()
	src := cluster.ForTest(t, cluster.Options{Checksums: true})
	dir := t.TempDir()
	feed := exec.Command(buildPgpull(t), "wal", "-D", "200ms", "-v", src.DSN(), dir)
	var stderr bytes.Buffer
	feed.Stderr = &stderr
	if err := feed.Start(); err != nil {
		t.Fatal(err)
	}
	first, err := src.QueryString(ctx, `SELECT pg_walfile_name(pg_current_wal_lsn())`)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := src.Exec(ctx, `CREATE TABLE IF NOT EXISTS filler AS SELECT 1 AS g; INSERT INTO filler SELECT generate_series(1, 20000)`); err != nil {
			t.Fatal(err)
		}
		if err := src.Exec(ctx, `SELECT pg_switch_wal()`); err != nil {
			t.Fatalf("switch %d: %v", i, err)
		}
	}
	last, err := src.QueryString(ctx, `SELECT pg_walfile_name(pg_current_wal_lsn())`)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // several passes of the feed
	if err := feed.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- feed.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pgpull wal after SIGINT: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		feed.Process.Kill()
		t.Fatalf("pgpull wal did not stop within 10 s of SIGINT\n%s", stderr.String())
	}
	copied := 0
	for name := first; name < last; name = nextSegmentName(t, name) {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("finished segment %s not in DIR: %v\n%s", name, err, stderr.String())
			continue
		}
		want, err := os.ReadFile(filepath.Join(src.DataDir, "pg_wal", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("segment %s differs from the server's", name)
		}
		copied++
	}
	// Three switches finish at least two segments before the one pg_walfile_name reports (at a
	// segment boundary it names the segment before).
	if copied < 2 {
		t.Errorf("%d finished segments checked, want at least 2 (from %s to %s)", copied, first, last)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*pgpull-tmp"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left in DIR: %v", leftovers)
	}
}

// nextSegmentName steps a 16 MB segment name forward by one.
func nextSegmentName(t *testing.T, name string) string {
	t.Helper()
	var tli, log, seg uint32
	if _, err := fmt.Sscanf(name, "%08X%08X%08X", &tli, &log, &seg); err != nil {
		t.Fatalf("segment name %q: %v", name, err)
	}
	if seg++; seg == 0x100 {
		log, seg = log+1, 0
	}
	return fmt.Sprintf("%08X%08X%08X", tli, log, seg)
}
