package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// faultRate slows backups of the scale 10 cluster to several seconds, long enough to interrupt.
const faultRate = "20M"

// TestBackupFault breaks things during backups of a cluster under pgbench load: a lost fetch
// connection costs a reconnect, a lost control session or an interrupt costs the backup, and
// neither leaves anything on the server or a partial DEST.
func TestBackupFault(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	loadPgbench(t, src, "10")
	base := t.TempDir()

	t.Run("fetch connection terminated", func(t *testing.T) {
		dest := filepath.Join(base, "fetch-killed")
		bg := startBackground(t, "backup", "-j", "4", "-c", "fast", "-v", "-r", faultRate, src.DSN(), dest)
		waitForCopy(t, dest)
		terminate(t, src, "pgpull fetch")
		code, stderr := bg.wait(t, 2*time.Minute)
		if code != 0 {
			t.Fatalf("backup with a terminated fetch connection failed (%d): %s", code, stderr)
		}
		if !strings.Contains(stderr, "reconnecting") {
			t.Errorf("no reconnect reported:\n%s", stderr)
		}
		checkServerClean(t, src)
		r := testcluster.AdoptForTest(t, dest)
		if err := r.CheckTPCB(ctx); err != nil {
			t.Error(err)
		}
	})

	t.Run("control session terminated", func(t *testing.T) {
		dest := filepath.Join(base, "control-killed")
		bg := startBackground(t, "backup", "-j", "4", "-c", "fast", "-r", faultRate, src.DSN(), dest)
		waitForSession(t, src, "pgpull fetch")
		terminate(t, src, "pgpull control")
		code, stderr := bg.wait(t, 30*time.Second)
		if code == 0 || !strings.Contains(stderr, "backup on the server") {
			t.Errorf("exit %d, %q; want a failure saying the backup on the server was lost", code, stderr)
		}
		checkOneLine(t, stderr)
		checkGone(t, dest)
		checkServerClean(t, src)
	})

	t.Run("stalled connection", func(t *testing.T) {
		proxy := startStallProxy(t, fmt.Sprintf("127.0.0.1:%d", src.Port), "pgpull fetch", 1<<20)
		dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", proxy.Port())
		code, stderr := runCLI(t, nil, "backup", "-j", "4", "-c", "fast", "-v", "--io-timeout", "2s", dsn, filepath.Join(base, "stalled"))
		if code != 0 {
			t.Fatalf("backup with a stalled connection failed (%d): %s", code, stderr)
		}
		if !proxy.stalled.Load() || !strings.Contains(stderr, "no data from the server for 2 s") {
			t.Errorf("stalled %v; want the stall reported and retried:\n%s", proxy.stalled.Load(), stderr)
		}
		proxy.Close()
		checkServerClean(t, src)
	})

	bin := buildPgpull(t)
	t.Run("SIGINT", func(t *testing.T) {
		dest := filepath.Join(base, "interrupted")
		cmd := exec.Command(bin, "backup", "-j", "4", "-c", "fast", "-r", faultRate, src.DSN(), dest)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForCopy(t, dest)
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		code := waitExit(t, cmd, 10*time.Second)
		t.Logf("exit %d: %s", code, stderr.String())
		if code == 0 {
			t.Errorf("interrupted backup exited 0")
		}
		checkOneLine(t, stderr.String())
		checkGone(t, dest)
		checkServerClean(t, src)
	})

	t.Run("stdout closed", func(t *testing.T) {
		cmd := exec.Command(bin, "backup", "-j", "4", "-c", "fast", "-r", faultRate, src.DSN(), "-")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, out, 4<<20); err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		out.Close()
		code := waitExit(t, cmd, 10*time.Second)
		t.Logf("exit %d: %s", code, stderr.String())
		if code == 0 {
			t.Errorf("backup to a closed stdout exited 0")
		}
		checkOneLine(t, stderr.String())
		checkServerClean(t, src)
	})
}

// background is an in-process pgpull run in a goroutine.
type background struct {
	done   chan int
	stderr *bytes.Buffer
}

func startBackground(t *testing.T, args ...string) *background {
	t.Helper()
	bg := &background{done: make(chan int, 1), stderr: new(bytes.Buffer)}
	go func() { bg.done <- run(args, io.Discard, bg.stderr) }()
	t.Logf("pgpull %s (in the background)", strings.Join(args, " "))
	return bg
}

func (bg *background) wait(t *testing.T, timeout time.Duration) (int, string) {
	t.Helper()
	select {
	case code := <-bg.done:
		t.Logf("exit %d:\n%s", code, bg.stderr.String())
		return code, bg.stderr.String()
	case <-time.After(timeout):
		t.Fatalf("pgpull still running after %s", timeout)
		return 0, ""
	}
}

// waitForSession waits until the server shows a session of application, and fails t if none
// comes within a minute.
func waitForSession(t *testing.T, c *testcluster.Cluster, application string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n, err := c.QueryInt(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, application)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatalf("no %q session showed up", application)
}

// waitForCopy waits until a backup into dest has written a data file, and fails t if none comes
// within a minute.
func waitForCopy(t *testing.T, dest string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if files, _ := filepath.Glob(filepath.Join(dest, "base", "*", "*")); len(files) > 0 {
			return
		}
	}
	t.Fatalf("no data file in %s a minute into the backup", dest)
}

// terminate ends one session of application on the server.
func terminate(t *testing.T, c *testcluster.Cluster, application string) {
	t.Helper()
	n, err := c.QueryInt(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM
		(SELECT pid FROM pg_stat_activity WHERE application_name = $1 LIMIT 1) AS s`, application)
	if err != nil || n != 1 {
		t.Fatalf("terminating a %q session: %d terminated, %v", application, n, err)
	}
}

func checkGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("failed run left %s (%v)", path, err)
	}
}

// buildPgpull builds the command, for tests that must signal a process of its own.
func buildPgpull(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pgpull")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// waitExit waits for cmd to end within timeout and returns its exit status, killing it and
// failing t when it overstays.
func waitExit(t *testing.T, cmd *exec.Cmd, timeout time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Errorf("pgpull still running %s after the fault; killed", timeout)
	}
	return cmd.ProcessState.ExitCode()
}
