package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupWriteRecoveryConf takes a backup with -R, as pg_basebackup -R, into a directory, as
// a tar stream and as an S3 object extracted afterwards: each copy starts as a standby of the
// source and streams from it.
func TestBackupWriteRecoveryConf(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	tests := []struct {
		name   string
		stream bool
		s3     bool
	}{{"plain", false, false}, {"tar stream", true, false}, {"s3", true, true}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "standby")
			if tt.s3 {
				srv := s3Store(t)
				location := "s3://" + s3Bucket + "/standby"
				if code, stderr := runCLI(t, nil, "backup", "-R", "-c", "fast", "--s3-endpoint", srv.Endpoint(), src.DSN(), location); code != 0 {
					t.Fatalf("backup -R to S3: exit %d: %s", code, stderr)
				}
				s3Extract(t, s3Open(t, srv.Endpoint(), location), "base.tar", dest)
				if code, stderr := runCLI(t, nil, "verify", dest); code != 0 {
					t.Errorf("pgpull verify of the extracted copy: exit %d: %s", code, stderr)
				}
			} else if tt.stream {
				archive := filepath.Join(t.TempDir(), "base.tar")
				out, err := os.Create(archive)
				if err != nil {
					t.Fatal(err)
				}
				code, stderr := runCLI(t, out, "backup", "-R", "-c", "fast", src.DSN(), "-")
				out.Close()
				if code != 0 {
					t.Fatalf("backup -R to a stream: exit %d: %s", code, stderr)
				}
				extract(t, archive, dest)
				if code, stderr := runCLI(t, nil, "verify", dest); code != 0 {
					t.Errorf("pgpull verify of the extracted copy: exit %d: %s", code, stderr)
				}
			} else if code, stderr := runCLI(t, nil, "backup", "-R", "-c", "fast", src.DSN(), dest); code != 0 {
				t.Fatalf("backup -R: exit %d: %s", code, stderr)
			}
			if _, err := os.Stat(filepath.Join(dest, "standby.signal")); err != nil {
				t.Errorf("no standby.signal: %v", err)
			}
			conf, err := os.ReadFile(filepath.Join(dest, "postgresql.auto.conf"))
			want := "primary_conninfo = 'user=postgres host=" + src.SocketDir + " port=" + strconv.Itoa(src.Port) + "'"
			if err != nil || !strings.Contains(string(conf), want) {
				t.Errorf("postgresql.auto.conf lacks %q (%v):\n%s", want, err, conf)
			}
			if !tt.stream {
				checkModes(t, dest)
			}
			copy := testcluster.AdoptForTest(t, dest)
			table := fmt.Sprintf("after_backup_%d", i)
			if err := src.Exec(ctx, `CREATE TABLE `+table+` AS SELECT 42 AS answer`); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
				status, _ := copy.QueryString(ctx, `SELECT status FROM pg_stat_wal_receiver`)
				n, err := copy.QueryInt(ctx, `SELECT answer FROM `+table)
				if status == "streaming" && err == nil && n == 42 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the copy does not stream from the source: receiver %q, table written after the backup: %v", status, err)
				}
			}
			if in, err := copy.QueryString(ctx, `SELECT pg_is_in_recovery()::text`); err != nil || in != "true" {
				t.Errorf("the copy is in recovery: %q (%v); want a standby", in, err)
			}
		})
	}
}

// TestBackupPasswordPrompt runs backup -W on a terminal, as pg_basebackup -W: it asks for the
// password, takes it without echo and connects with it.
func TestBackupPasswordPrompt(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{})
	requirePassword(t, src, "pw_user", secret)
	dsn := strings.Replace(src.TCPDSN(), "user=postgres", "user=pw_user", 1)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := exec.Command(buildPgpull(t), "backup", "-W", "-c", "fast", dsn, filepath.Join(t.TempDir(), "copy"))
	cmd.Stdin, cmd.Stderr = tty, tty
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PGPASSWORD=") && !strings.HasPrefix(kv, "PGPASSFILE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	seen := func(s string) bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(screen.String(), s)
	}
	// The prompt comes a moment before the terminal stops echoing: type only once it has.
	echoOff := func() bool {
		tio, err := unix.IoctlGetTermios(int(ptmx.Fd()), unix.TCGETS)
		return err == nil && tio.Lflag&unix.ECHO == 0
	}
	for deadline := time.Now().Add(time.Minute); !seen("Password for user pw_user: ") || !echoOff(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no password prompt on the terminal, or the terminal still echoes")
		}
	}
	if _, err := ptmx.Write([]byte(secret + "\n")); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 2*time.Minute); code != 0 {
		mu.Lock()
		t.Fatalf("backup -W with the password typed: exit %d\n%s", code, screen.String())
	}
	if seen(secret) {
		t.Errorf("the password was echoed")
	}
	checkServerClean(t, src)
}
