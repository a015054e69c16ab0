package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestRestorePointInTime: rows written after the backup in two batches, the WAL kept by
// pgpull wal; restored to a time between the batches, the server has the first batch and not
// the second. Targets before the backup's end or past the archive are refused in one line,
// before any server could start.
func TestRestorePointInTime(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	mustExec(t, src, `CREATE TABLE batches (batch int, g int)`)
	archive := serverGroupDir(t)
	keep, _ := advisedKeep(t, src.DSN()) // a safe feed, as docs/wal.md configures one
	setWALKeepSize(t, src, keep)
	feed := startFeed(t, buildPgpull(t), "--interval", "100ms", "-v", "--mode", "0640", src.DSN(), archive)
	feedStart(t, feed)
	base := t.TempDir()
	stream := filepath.Join(base, "base.tar.zst")
	streamBackup(t, stream, "-c", "fast", "-Z", "zstd", src.DSN())

	mustExec(t, src, `INSERT INTO batches SELECT 1, generate_series(1, 1000)`)
	between, err := src.QueryString(ctx, `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'`)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, src, `INSERT INTO batches SELECT 2, generate_series(1, 1000)`, `SELECT pg_switch_wal()`)
	switched := writtenSegment(t, src) - 1
	waitForFiles(t, feed, archive, switched.Name(1, walSegSize))
	var listed bytes.Buffer
	if code, stderr := runCLI(t, &listed, "list", archive); code != 0 || !strings.Contains(listed.String(), "to "+switched.Name(1, walSegSize)) {
		t.Errorf("pgpull list %s: exit %d, %q, %s; want the archive's span through %s", archive, code, listed.String(), stderr, switched.Name(1, walSegSize))
	}

	refused := []struct {
		name, want string
		args       []string
	}{
		{"time past the archive", "past the WAL the archive", []string{"--target-time", time.Now().Add(time.Hour).Format(time.RFC3339)}},
		{"LSN past the archive", "past the WAL the archive", []string{"--target-lsn", "FF/0"}},
		{"LSN before the backup's end", "before the backup's end", []string{"--target-lsn", "0/1"}},
		{"time before the backup's end", "before the backup's end", []string{"--target-time", "2000-01-01 00:00:00+00"}},
		{"target without an archive", "needs --wal-archive", []string{"--target-name", "x"}},
	}
	out := filepath.Join(base, "refused")
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"restore"}
			if !strings.Contains(tt.want, "--wal-archive") {
				args = append(args, "--wal-archive", archive)
			}
			code, stderr := runCLI(t, nil, append(append(args, tt.args...), stream, out)...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, %q; want a refusal mentioning %q", code, stderr, tt.want)
			}
			checkOneLine(t, stderr)
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the refused restore left %s behind (%v)", out, err)
			}
		})
	}

	dir := filepath.Join(base, "pitr")
	restoreOK(t, "--wal-archive", archive, "--target-time", between, "--target-action", "promote", stream, dir)
	if _, err := os.Stat(filepath.Join(dir, "recovery.signal")); err != nil {
		t.Errorf("no recovery.signal in the restored directory: %v", err)
	}
	r := testcluster.AdoptForTest(t, dir)
	waitUntil(t, "the restored server to reach its target and promote", func() (bool, error) {
		s, err := r.QueryString(ctx, `SELECT pg_is_in_recovery()::text`)
		return s == "false", err
	})
	for batch, want := range map[int]int64{1: 1000, 2: 0} {
		n, err := r.QueryInt(ctx, `SELECT count(*) FROM batches WHERE batch = $1`, batch)
		if err != nil || n != want {
			t.Errorf("batch %d in the copy recovered to %s: %d rows, %v; want %d", batch, between, n, err, want)
		}
	}
}
