package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// secret is the password every failing case's DSN carries: it must never reach stderr.
const secret = "secret-pw-4711"

// TestBackupBadInput runs pgpull on inputs a user gets wrong. Each must fail with one line on
// stderr, leave what was in DEST, and leave nothing of pgpull on the server.
func TestBackupBadInput(t *testing.T) {
	// Few connections, so -j 10 cannot fit; scram on TCP, so a wrong password is refused.
	src := testcluster.ForTest(t, testcluster.Options{Conf: []string{"max_connections = 8"}})
	requirePassword(t, src, "pw_user", "right-"+secret)
	minimal := testcluster.ForTest(t, testcluster.Options{Conf: []string{"wal_level = minimal", "max_wal_senders = 0"}})
	closedPort, err := testcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	withPassword := func(dsn string) string { return dsn + " password=" + secret }
	base := t.TempDir()
	keep := filepath.Join(base, "full")
	if err := os.MkdirAll(keep, 0o700); err != nil {
		t.Fatal(err)
	}
	keepFile := filepath.Join(keep, "precious.txt")
	notDir := filepath.Join(base, "a-file")
	notBackup := filepath.Join(base, "not-a-backup.tar")
	for _, p := range []string{keepFile, notDir, notBackup} {
		if err := os.WriteFile(p, []byte("mine\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fresh := func(name string) string { return filepath.Join(base, name) }

	tests := []struct {
		name string
		args []string
		want string
		dest string // a destination that must not exist afterwards, "" for none
	}{
		{"unreachable server", []string{"backup", fmt.Sprintf("host=127.0.0.1 port=%d user=postgres sslmode=disable connect_timeout=5 password=%s", closedPort, secret), fresh("d1")},
			"cannot connect", fresh("d1")},
		{"malformed DSN", []string{"backup", "host=127.0.0.1 port=notaport password=" + secret, fresh("d2")}, "invalid DSN", fresh("d2")},
		{"malformed URI", []string{"backup", "postgres://u:" + secret + "@127.0.0.1:bad/db", fresh("d3")}, "invalid DSN", fresh("d3")},
		{"wrong password", []string{"backup", strings.Replace(withPassword(src.TCPDSN()), "user=postgres", "user=pw_user", 1), fresh("d4")},
			"password authentication failed", fresh("d4")},
		{"wal_level minimal", []string{"backup", withPassword(minimal.DSN()), fresh("d5")}, "wal_level is minimal", fresh("d5")},
		{"too few connections for -j", []string{"backup", "-j", "10", withPassword(src.DSN()), fresh("d6")}, "free connections", fresh("d6")},
		{"non-empty DEST", []string{"backup", "-j", "1", withPassword(src.DSN()), keep}, "not empty", ""},
		{"-f on a directory that is no backup", []string{"backup", "-f", "-j", "1", withPassword(src.DSN()), keep}, "holds no backup", ""},
		{"DEST is a file", []string{"backup", "-j", "1", withPassword(src.DSN()), notDir}, "not a directory", ""},
		{"-j 0", []string{"backup", "-j", "0", withPassword(src.DSN()), fresh("d7")}, "at least 1", fresh("d7")},
		{"unknown flag", []string{"backup", "--bogus", withPassword(src.DSN()), fresh("d8")}, "bogus", fresh("d8")},
		{"missing DEST", []string{"backup", withPassword(src.DSN())}, "backup needs DEST after DSN", ""},
		{"-r below 32k", []string{"backup", "-r", "20k", withPassword(src.DSN()), fresh("d10")}, "at least 32k", fresh("d10")},
		{"--io-timeout 0", []string{"backup", "--io-timeout", "0s", withPassword(src.DSN()), fresh("d9")}, "--io-timeout", fresh("d9")},
		{"grants for a malformed DSN", []string{"grants", "port=notaport password=" + secret, "bk"}, "invalid DSN", ""},
		{"verify a file that is no backup", []string{"verify", notBackup}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runCLI(t, nil, tt.args...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want a failure containing %q", code, stderr, tt.want)
			}
			checkOneLine(t, stderr, secret)
			if tt.dest != "" {
				if _, err := os.Stat(tt.dest); !os.IsNotExist(err) {
					t.Errorf("failed run left %s (%v)", tt.dest, err)
				}
			}
			for _, p := range []string{keepFile, notDir, notBackup} {
				if b, err := os.ReadFile(p); err != nil || string(b) != "mine\n" {
					t.Errorf("%s after the run: %q, %v; want it untouched", p, b, err)
				}
			}
			checkServerClean(t, src)
			checkServerClean(t, minimal)
		})
	}

	// The server is still fit for a backup: nothing of the failures holds it.
	dest := fresh("after")
	if code, stderr := runCLI(t, nil, "backup", "-j", "1", "-c", "fast", src.DSN(), dest); code != 0 {
		t.Fatalf("backup after the failures: exit %d: %s", code, stderr)
	}
	checkServerClean(t, src)
}

// TestBackupPasswordNeverLogged takes a backup over scram with -v and --show-sql: the password must not
// show in the progress or SQL logged.
func TestBackupPasswordNeverLogged(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{})
	requirePassword(t, src, "pw_user", secret)
	dsn := strings.Replace(src.TCPDSN(), "user=postgres", "user=pw_user", 1) + " password=" + secret
	code, stderr := runCLI(t, nil, "backup", "-j", "2", "-c", "fast", "-v", "--show-sql", dsn, filepath.Join(t.TempDir(), "copy"))
	if code != 0 {
		t.Fatalf("backup with a password failed (%d): %s", code, stderr)
	}
	if strings.Contains(stderr, secret) {
		t.Errorf("the password shows on stderr:\n%s", stderr)
	}
	checkServerClean(t, src)
}

// requirePassword makes role a superuser that must give password over TCP: the harness trusts
// every connection, so a scram line for role goes in front of pg_hba.conf's.
func requirePassword(t *testing.T, c *testcluster.Cluster, role, password string) {
	t.Helper()
	ctx := context.Background()
	if err := c.Exec(ctx, fmt.Sprintf(`SET password_encryption = 'scram-sha-256'; CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'`, role, password)); err != nil {
		t.Fatal(err)
	}
	hba := filepath.Join(c.DataDir, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("host all %s 127.0.0.1/32 scram-sha-256\n", role)
	if err := os.WriteFile(hba, append([]byte(line), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		t.Fatal(err)
	}
}
