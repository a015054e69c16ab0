package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestWALReceivewalSpelling runs pgpull wal as pg_receivewal is run, -D DIR with -h, -p and -U and
// no DSN, and as pgpull wal was run before -D was the directory, -D DURATION DSN DIR, which still
// works and says what to write instead: both copy the segment the server finishes.
func TestWALReceivewalSpelling(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{})
	bin := buildPgpull(t)
	tests := []struct {
		name       string
		args       func(dir string) []string
		deprecated bool
	}{
		{"-D DIR -h -p -U", func(dir string) []string {
			return []string{"-D", dir, "-h", src.SocketDir, "-p", strconv.Itoa(src.Port), "-U", "postgres", "--interval", "100ms", "-v", "--accept-gaps"}
		}, false},
		{"-D DURATION DSN DIR", func(dir string) []string { return []string{"-D", "100ms", "-v", "--accept-gaps", src.DSN(), dir} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			feed := startFeed(t, bin, tt.args(dir)...)
			seg := writtenSegment(t, src)
			if err := src.Exec(ctx, `CREATE TABLE IF NOT EXISTS filler AS SELECT 1 AS g; SELECT pg_switch_wal()`); err != nil {
				t.Fatal(err)
			}
			waitForFiles(t, feed, dir, seg.Name(1, walSegSize))
			feed.stop(t)
			said := strings.Contains(feed.stderr(), "-D 100ms as the interval is deprecated: -D is the directory, as in pg_receivewal; use --interval 100ms")
			if said != tt.deprecated {
				t.Errorf("deprecation line shown: %v, want %v:\n%s", said, tt.deprecated, feed.stderr())
			}
			if _, err := os.Stat(dir); err != nil {
				t.Fatal(err)
			}
		})
	}
}
