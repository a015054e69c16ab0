package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupAsksForTLSOnce: with libpq's default sslmode=prefer over TCP, to a server without
// TLS, only the control session's connection asks for TLS (pgx then opens a second connection
// without it); the other sessions go straight to what it found, one connection each, two
// round trips less each through a link.
func TestBackupAsksForTLSOnce(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true, Conf: []string{"log_connections = on"}})
	dsn := strings.Replace(src.TCPDSN(), "sslmode=disable", "sslmode=prefer", 1)
	received, authorized := connectionLines(t, src)
	code, stderr := pgpull(t, nil, "backup", "-c", "fast", "-j", "3", dsn, filepath.Join(t.TempDir(), "copy"))
	if code != 0 {
		t.Fatalf("backup failed (%d): %s", code, stderr)
	}
	r, a := connectionLines(t, src)
	received, authorized = r-received, a-authorized
	// control, lister, WAL scanner, 3 fetch workers
	if authorized < 6 {
		t.Fatalf("the server logged %d sessions for the backup; want at least 6 (control, list, WAL, -j 3)\n%s", authorized, src.Log())
	}
	if received != authorized+1 {
		t.Errorf("the server logged %d connections for %d sessions; want one more, the control session's request for TLS\n%s",
			received, authorized, src.Log())
	}
}

// connectionLines counts the connections the server has logged as received and as authorized.
func connectionLines(t *testing.T, c *testcluster.Cluster) (received, authorized int) {
	t.Helper()
	log, err := os.ReadFile(c.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(log), "connection received"), strings.Count(string(log), "connection authorized")
}
