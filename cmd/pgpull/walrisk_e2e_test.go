package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestWALRiskPreflight backs up, as a role without REPLICATION, a server that keeps little WAL
// while pgbench writes: pgpull must warn with the numbers while the copy runs, having measured
// the WAL rate over the backup's start rather than before it, and with --require-slot refuse to
// start at all, leaving nothing on the server.
func TestWALRiskPreflight(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true, Conf: []string{"max_wal_size = 32MB", "min_wal_size = 32MB", "checkpoint_timeout = 30s"}})
	load := loadPgbench(t, src, "5")
	role := grantedRole(t, src, "bk")
	base := t.TempDir()

	t.Run("warning", func(t *testing.T) {
		dest := filepath.Join(base, "warned")
		// At 64 kB/s the copy of some 100 MB would take far longer than checkpoint_timeout, so any
		// WAL written meanwhile is at risk, however slowly pgbench writes on a loaded machine. The
		// test stops the backup once it has warned.
		cmd := exec.Command(buildPgpull(t), "backup", "-c", "fast", "-v", "--show-sql", "-r", "64k", roleDSN(src, role), dest)
		stderr := &lockedBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(stderr.String(), "pgpull: warning: no slot"); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no warning within 2 minutes:\n%s", stderr.String())
			}
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code := waitExit(t, cmd, time.Minute); code != 130 {
			t.Errorf("exit %d after SIGINT, want 130", code)
		}
		out := stderr.String()
		t.Logf("stderr:\n%s", out)
		warn := regexp.MustCompile(`pgpull: warning: no slot will hold WAL \(the role lacks REPLICATION[^)]*\): the server writes ([0-9.]+) (kiB|MiB)/s of WAL, ` +
			`the copy of ([0-9.]+) MiB takes about \S+ at 64.0 kiB/s \(-r\), so about [0-9.]+ [kMG]iB of WAL is written meanwhile; ` +
			`the server keeps 0.0 MiB beyond each checkpoint \(wal_keep_size\) and checkpoints every 30s \(checkpoint_timeout\) or every [0-9.]+ MiB of WAL \(max_wal_size 32.0 MiB\).*` +
			`set wal_keep_size to at least [0-9.]+ [kMG]iB`).FindStringSubmatchIndex(out)
		if warn == nil {
			t.Fatalf("no warning with the WAL rate, the copy's size and time, and the server's settings")
		}
		if rate, _ := strconv.ParseFloat(out[warn[2]:warn[3]], 64); rate <= 0 {
			t.Errorf("WAL rate %s measured under pgbench; want more than 0", out[warn[2]:warn[3]])
		}
		// The rate's second reading waits for no one: it comes after pg_backup_start, on the
		// control session, and the warning while the copy runs.
		started := strings.Index(out, "pgpull: backup started at")
		position := regexp.MustCompile(`(?m)^pgpull: SQL: SELECT pg_current_wal_lsn\(\) - '0/0'::pg_lsn`).FindAllStringIndex(out, -1)
		if started < 0 || len(position) != 2 || position[1][0] < strings.Index(out, "pg_backup_start(") || warn[0] < started {
			t.Errorf("want the WAL position read before the backup starts and again after pg_backup_start, then the warning "+
				"after \"backup started\" (at %d): position reads at %v, warning at %d", started, position, warn[0])
		}
		if strings.Contains(out, "pgpull: backup stopped") {
			t.Errorf("the warning came after the copy ended")
		}
		checkServerClean(t, src)
	})

	t.Run("--require-slot", func(t *testing.T) {
		dest := filepath.Join(base, "refused")
		code, stderr := runCLI(t, nil, "backup", "--require-slot", "-c", "fast", roleDSN(src, role), dest)
		if code != 1 || !strings.Contains(stderr, "--require-slot: no replication slot can hold WAL for this backup: the role lacks REPLICATION") {
			t.Errorf("exit %d, %q; want a refusal naming the missing REPLICATION", code, stderr)
		}
		checkOneLine(t, stderr)
		if _, err := os.Stat(dest); !os.IsNotExist(err) {
			t.Errorf("refused backup made %s (%v)", dest, err)
		}
		checkServerClean(t, src)
		if n, err := src.QueryInt(ctx, `SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, role); err != nil || n != 0 {
			t.Errorf("%d sessions of %s left (%v)", n, role, err)
		}
	})
	load.stop(t)
}

// grantedRole makes a login role without REPLICATION and gives it what pgpull grants prints,
// run through psql as README says.
func grantedRole(t *testing.T, c *testcluster.Cluster, role string) string {
	t.Helper()
	ctx := context.Background()
	if err := c.Exec(ctx, `CREATE ROLE `+role+` LOGIN`); err != nil {
		t.Fatal(err)
	}
	var grants bytes.Buffer
	if code, stderr := runCLI(t, &grants, "grants", c.DSN(), role); code != 0 {
		t.Fatalf("pgpull grants: exit %d: %s", code, stderr)
	}
	psql := c.Psql(ctx)
	psql.Stdin = &grants
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql < grants: %v\n%s", err, out)
	}
	return role
}

// lockedBuffer is a bytes.Buffer a child process writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
