package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// runCLI runs the command in-process with stdout going to w (nil to discard it), and returns its
// exit status and stderr.
func runCLI(t *testing.T, w io.Writer, args ...string) (int, string) {
	t.Helper()
	if w == nil {
		w = io.Discard
	}
	var stderr bytes.Buffer
	code := run(args, w, &stderr)
	t.Logf("pgpull %s -> %d\n%s", strings.Join(args, " "), code, stderr.String())
	return code, stderr.String()
}

// checkOneLine fails t unless stderr is the single "pgpull: ..." line a user should get for a
// failure: no stack trace, no usage dump, no secret.
func checkOneLine(t *testing.T, stderr string, secrets ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "pgpull: ") {
		t.Errorf("stderr is not one pgpull line:\n%s", stderr)
	}
	for _, bad := range append([]string{"panic", "goroutine ", "Usage", "USAGE"}, secrets...) {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr holds %q:\n%s", bad, stderr)
		}
	}
}

// checkServerClean waits for the server to show what a finished or failed run must leave: no
// pgpull session (and so no backup, which dies with the session that started it) and no
// replication slot. Backends take a moment to exit after their client goes.
func checkServerClean(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	ctx := context.Background()
	var sessions, slots int64
	var err error
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		sessions, err = c.QueryInt(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgpull%'`)
		if err == nil {
			slots, err = c.QueryInt(ctx, `SELECT count(*) FROM pg_replication_slots`)
		}
		if err == nil && sessions == 0 && slots == 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || sessions != 0 || slots != 0 {
		t.Errorf("server after the run: %d pgpull sessions, %d replication slots (%v); want none", sessions, slots, err)
	}
}

// checkModes fails t unless every directory under root is 0700 and every file 0600: a backup
// holds all the cluster's data and must be no more readable than the cluster.
func checkModes(t *testing.T, root string) {
	t.Helper()
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
		case fi.IsDir() && fi.Mode().Perm() != 0o700:
			t.Errorf("%s: mode %v, want 0700", p, fi.Mode().Perm())
		case fi.Mode().IsRegular() && fi.Mode().Perm() != 0o600:
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// roleDSN is c's unix-socket DSN for another role.
func roleDSN(c *testcluster.Cluster, role string) string {
	return strings.Replace(c.DSN(), "user=postgres", "user="+role, 1)
}
