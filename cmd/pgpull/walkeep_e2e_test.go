package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// advisedWALKeep is the size in the refusal's ALTER SYSTEM SET wal_keep_size.
var advisedWALKeep = regexp.MustCompile(`ALTER SYSTEM SET wal_keep_size = '(\d+MB)'; SELECT pg_reload_conf\(\)`)

// advisedKeep starts pgpull wal without a slot on dsn, which must refuse in one line naming the
// fixes best first (a slot, then wal_keep_size, last --accept-gaps), and returns the
// wal_keep_size it advises, and the line.
func advisedKeep(t *testing.T, dsn string) (size, line string) {
	t.Helper()
	code, stderr := runCLI(t, nil, "wal", dsn, t.TempDir())
	checkOneLine(t, stderr)
	m := advisedWALKeep.FindStringSubmatch(stderr)
	if code == 0 || m == nil {
		t.Fatalf("exit %d, %q; want a refusal advising ALTER SYSTEM SET wal_keep_size", code, stderr)
	}
	slot, keep, gaps := strings.Index(stderr, "--slot NAME"), strings.Index(stderr, m[0]), strings.Index(stderr, "--accept-gaps")
	if slot < 0 || gaps < 0 || !(slot < keep && keep < gaps) {
		t.Errorf("refusal %q: want --slot NAME, then wal_keep_size, then --accept-gaps", stderr)
	}
	return m[1], stderr
}

// setWALKeepSize sets wal_keep_size on c and waits until new sessions see it.
func setWALKeepSize(t *testing.T, c *testcluster.Cluster, size string) {
	t.Helper()
	ctx := context.Background()
	if err := c.Exec(ctx, `ALTER SYSTEM SET wal_keep_size = '`+size+`'`); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "wal_keep_size "+size, func() (bool, error) {
		got, err := c.QueryString(ctx, `SELECT (pg_size_bytes(current_setting('wal_keep_size')) = pg_size_bytes($1))::text`, size)
		return got == "true", err
	})
}
