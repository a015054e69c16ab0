package verify

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// pgBinDir finds the PostgreSQL server binaries, failing the test (never skipping) when absent.
func pgBinDir(t testing.TB) string {
	t.Helper()
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	dirs = append(dirs, "/usr/lib/postgresql/15/bin")
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	t.Fatal("PostgreSQL server binaries not found (looked in pg_config --bindir and /usr/lib/postgresql/15/bin); install them with: apt-get install postgresql-15")
	return ""
}

// pgCommand runs a PostgreSQL binary as the postgres user when the test runs as root, since the
// server refuses to run as root.
func pgCommand(bin string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

// runPG runs a binary and fails the test if it fails.
func runPG(t testing.TB, bin string, args ...string) string {
	t.Helper()
	out, err := pgCommand(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// postgresDir makes a temporary directory the postgres user owns and can reach.
func postgresDir(t testing.TB, parent, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("tests run as root need a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testCluster is a throwaway cluster made with initdb --data-checksums, reachable by Unix socket.
type testCluster struct {
	bin, data, sockets, log string
	port                    int
}

func newTestCluster(t testing.TB) *testCluster {
	t.Helper()
	c := &testCluster{bin: pgBinDir(t)}
	root := postgresDir(t, "", "pgpull-verify-")
	c.data = filepath.Join(root, "data")
	c.log = filepath.Join(root, "server.log")
	c.sockets = postgresDir(t, "/tmp", "pgs") // short: socket paths are limited to ~107 bytes
	c.port = freePort(t)
	runPG(t, filepath.Join(c.bin, "initdb"), "--data-checksums", "-A", "trust", "-U", "postgres", "-D", c.data)
	return c
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (c *testCluster) start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-k %s -p %d -c listen_addresses=''", c.sockets, c.port)
	runPG(t, filepath.Join(c.bin, "pg_ctl"), "-D", c.data, "-o", opts, "-l", c.log, "-w", "start")
	t.Cleanup(func() {
		// Stop again in case the test failed while the server ran; an error means it is stopped.
		pgCommand(filepath.Join(c.bin, "pg_ctl"), "-D", c.data, "-m", "immediate", "-w", "stop").Run()
	})
}

func (c *testCluster) stop(t testing.TB) {
	t.Helper()
	runPG(t, filepath.Join(c.bin, "pg_ctl"), "-D", c.data, "-m", "fast", "-w", "stop")
}

// psql runs SQL and returns its unaligned, tuples-only output.
func (c *testCluster) psql(t testing.TB, sql string) string {
	t.Helper()
	out, err := pgCommand(filepath.Join(c.bin, "psql"), "-X", "-h", c.sockets, "-p", strconv.Itoa(c.port),
		"-d", "postgres", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-Atq", "-c", sql).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("psql %q: %v\n%s", sql, err, bytes.TrimSpace(stderr))
	}
	return strings.TrimSpace(string(out))
}
