package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBackupSilentLink: the network path to the server goes silent in the middle of the copy,
// every connection open and nothing carried. With the default timeouts pgpull fails within two
// minutes of the silence, its last line names it, -v says how long nothing has come instead of
// counting a rate down, DEST is gone, and once pgpull has closed its ends the server holds no
// backup, no slot and no pgpull session.
func TestBackupSilentLink(t *testing.T) {
	src := clusterWith46MB(t)
	link := startSilentLink(t, fmt.Sprintf("127.0.0.1:%d", src.Port), 16<<20)
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", link.Port())
	dest := filepath.Join(t.TempDir(), "dest")
	bg := startBackground(t, "backup", "-c", "fast", "-v", dsn, dest)
	code, stderr := bg.wait(t, 5*time.Minute)
	silentSince := link.SilentSince()
	if silentSince.IsZero() {
		t.Fatalf("the link never went silent: the backup ended (%d) before 16 MiB passed", code)
	}
	if took := time.Since(silentSince); code == 0 || took > 2*time.Minute {
		t.Errorf("exit %d %s after the link went silent; want a failure within 2 minutes", code, took.Round(time.Second))
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^pgpull: (.*: )?no (answer|data) from the server for 30 s`).MatchString(last) || !strings.Contains(last, "check the network") {
		t.Errorf("last line %q; want it to name 30 s of silence from the server and the network to check", last)
	}
	checkOneLine(t, last)
	stalled := regexp.MustCompile(`^pgpull: copied .*; no data for (\d+) s$`)
	seen := false
	for _, line := range lines {
		switch {
		case stalled.MatchString(line):
			seen = true
		case seen && strings.Contains(line, "MB/s"):
			t.Errorf("a rate after the silence was shown: %q", line)
		}
	}
	if !seen {
		t.Errorf("-v never said that no data came")
	}
	checkGone(t, dest)
	checkServerClean(t, src)
}

// TestBackupEndpointNeverAnswers: a server address that accepts connections and never answers
// them fails the backup at the default connect_timeout, within a minute, in one line that names
// the address, the wait and the setting that changes it.
func TestBackupEndpointNeverAnswers(t *testing.T) {
	link := startSilentLink(t, "127.0.0.1:1", 0)
	link.Silence()
	addr := fmt.Sprintf("127.0.0.1:%d", link.Port())
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres", link.Port())
	dest := filepath.Join(t.TempDir(), "dest")
	began := time.Now()
	bg := startBackground(t, "backup", "-c", "fast", dsn, dest)
	code, stderr := bg.wait(t, 3*time.Minute)
	if took := time.Since(began); code == 0 || took > time.Minute {
		t.Errorf("exit %d after %s; want a failure within a minute", code, took.Round(time.Second))
	}
	want := "pgpull: the server at " + addr + " did not answer the connection within 30 s"
	if !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "connect_timeout") {
		t.Errorf("stderr %q; want it to start %q and name connect_timeout", stderr, want)
	}
	checkOneLine(t, stderr)
	checkGone(t, dest)
}
