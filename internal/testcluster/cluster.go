// Package cluster runs scratch PostgreSQL clusters for pgpull's end-to-end
// tests and benchmarks: it creates a source cluster to back up, adopts a
// restored backup as a second cluster next to it, and checks the restored
// data the way a user would (TPC-B invariants, amcheck, checksums).
//
// PostgreSQL refuses to run as root. When the process is root (as in CI),
// the server-side programs (initdb, pg_ctl, pg_checksums) run as the
// "postgres" OS user through runuser, and every directory this package makes
// for the server is chowned to that user. Client programs (pgbench,
// pg_amcheck) and pgx connections run as the calling user and log in as the
// database role "postgres" with trust authentication.
package testcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"

	"strconv"
	"strings"
	"time"
)

// pgOSUser is the OS account the server runs as when we are root.
const pgOSUser = "postgres"

// logTailBytes bounds how much of the server log goes into error messages.
const logTailBytes = 8 << 10

// startAttempts bounds retries when the picked TCP port was taken between
// choosing it and the server binding it.
const startAttempts = 3

// Options shape a new cluster made by Init.
type Options struct {
	Checksums    bool     // initdb --data-checksums
	Conf         []string // extra postgresql.conf lines, e.g. "wal_keep_size = 0"
	WALSegSizeMB int      // initdb --wal-segsize; 0 = default (16)
}

// Cluster is one scratch PostgreSQL cluster. Its fields are plain data so a
// test can print or reuse them; methods derive everything from them.
type Cluster struct {
	DataDir   string // absolute data directory
	SocketDir string // short unix socket directory, also holds LogFile
	Port      int    // TCP port on 127.0.0.1 and the socket's port number
	Bindir    string // server binaries: initdb, pg_ctl, postgres
	ClientBin string // client programs: psql, pgbench, pg_amcheck
	Major     int    // the server's major version, from postgres --version
	LogFile   string // server log written by pg_ctl -l

	// ServerOpts are extra postgres command-line options passed through
	// pg_ctl -o at Start, e.g. "-c log_min_messages=debug1". They override
	// postgresql.conf and postgresql.auto.conf.
	ServerOpts []string

	// owner is the OS account the server runs as, when we are root.
	owner *osUser
}

// osUser is the account server programs run as when the process is root.
type osUser struct {
	name     string
	uid, gid int
}

// serverUser returns the account to run server programs as, or nil when the
// current user can run them directly.
func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(pgOSUser)
	if err != nil {
		return nil, fmt.Errorf("running as root needs an OS user %q to run PostgreSQL: %w", pgOSUser, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", pgOSUser, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", pgOSUser, u.Gid, err)
	}
	return &osUser{name: u.Username, uid: uid, gid: gid}, nil
}

// Init runs initdb into dataDir (created if missing; it must be empty) and
// writes postgresql.conf settings for a private, fast test server: a fresh
// free port, a fresh short socket directory, TCP on 127.0.0.1 only (so fault
// tests can put a proxy in front), and fsync off, which is safe for a source
// cluster that never has to survive a crash. It does not start the server.
func Init(ctx context.Context, dataDir string, opts Options) (*Cluster, error) {
	c, err := newCluster(dataDir)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(c.SocketDir)
		}
	}()
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := c.chown(c.DataDir); err != nil {
		return nil, err
	}
	args := []string{"-D", c.DataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"}
	switch {
	case opts.Checksums:
		args = append(args, "--data-checksums")
	case c.Major >= 18:
		// 18's initdb turns checksums on unless told otherwise.
		args = append(args, "--no-data-checksums")
	}
	if opts.WALSegSizeMB != 0 {
		args = append(args, "--wal-segsize="+strconv.Itoa(opts.WALSegSizeMB))
	}
	if out, err := c.serverCmd(ctx, "initdb", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb %s: %w\n%s", c.DataDir, err, out)
	}
	conf := []string{
		"",
		"# added by pgpull internal/testcluster",
		"port = " + strconv.Itoa(c.Port),
		"unix_socket_directories = '" + c.SocketDir + "'",
		"listen_addresses = '127.0.0.1'",
		"fsync = off",
		"max_connections = 100",
		"max_wal_senders = 10",
		"wal_level = replica",
	}
	conf = append(conf, opts.Conf...)
	if err := appendFile(filepath.Join(c.DataDir, "postgresql.conf"), strings.Join(conf, "\n")+"\n"); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// newCluster resolves the binaries and the run-as user and picks a fresh
// port and socket directory for a cluster at dataDir.
func newCluster(dataDir string) (*Cluster, error) {
	bins, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	owner, err := serverUser()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{DataDir: abs, Bindir: bins.Server, ClientBin: bins.Client, Major: bins.Major, owner: owner}
	if c.Port, err = FreePort(); err != nil {
		return nil, err
	}
	// Unix socket paths are limited to ~107 bytes, so never derive the
	// socket directory from a (possibly long) test temp dir.
	if c.SocketDir, err = os.MkdirTemp(socketParent(), "pgs"); err != nil {
		return nil, err
	}
	c.LogFile = filepath.Join(c.SocketDir, "server.log")
	if err := os.Chmod(c.SocketDir, 0o700); err == nil {
		err = c.chown(c.SocketDir)
	}
	if err == nil {
		err = c.makeReachable(filepath.Dir(c.DataDir))
	}
	if err == nil {
		err = c.makeReachable(filepath.Dir(c.SocketDir))
	}
	if err != nil {
		os.RemoveAll(c.SocketDir)
		return nil, err
	}
	return c, nil
}

// Start starts the server and waits until it accepts connections. Port and
// socket directory are passed on the command line so they win over whatever
// the data directory's config says (a restored backup names its source's).
// If the TCP port was grabbed meanwhile it retries on a fresh port. On
// failure the error carries the server log's tail.
func (c *Cluster) Start(ctx context.Context) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = c.startOnce(ctx)
		if err == nil || attempt == startAttempts || !strings.Contains(c.Log(), "could not bind") {
			break
		}
		if c.Port, err = FreePort(); err != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("start cluster %s: %w\nserver log tail:\n%s", c.DataDir, err, c.Log())
	}
	return nil
}

func (c *Cluster) startOnce(ctx context.Context) error {
	// Truncate so Log() and bind-failure detection see only this start.
	if err := os.WriteFile(c.LogFile, nil, 0o600); err != nil {
		return err
	}
	if err := c.chown(c.LogFile); err != nil {
		return err
	}
	opts := []string{
		"-p " + strconv.Itoa(c.Port),
		"-k '" + c.SocketDir + "'",
		"-c listen_addresses=127.0.0.1",
	}
	opts = append(opts, c.ServerOpts...)
	out, err := c.serverCmd(ctx, "pg_ctl", "start", "-w", "-t", "120",
		"-D", c.DataDir, "-l", c.LogFile, "-o", strings.Join(opts, " ")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Stop shuts the server down with a fast shutdown (clients disconnected,
// clean checkpoint), waiting for it to finish.
func (c *Cluster) Stop(ctx context.Context) error {
	out, err := c.serverCmd(ctx, "pg_ctl", "stop", "-m", "fast", "-w", "-t", "120", "-D", c.DataDir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop %s: %w: %s\nserver log tail:\n%s", c.DataDir, err, bytes.TrimSpace(out), c.Log())
	}
	return nil
}

// Running reports whether a server is running on DataDir.
func (c *Cluster) Running(ctx context.Context) bool {
	return c.serverCmd(ctx, "pg_ctl", "status", "-D", c.DataDir).Run() == nil
}

// Remove stops the server if it runs (immediate shutdown: the data is about
// to go) and removes the data and socket directories.
func (c *Cluster) Remove() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	if c.Running(ctx) {
		if out, err := c.serverCmd(ctx, "pg_ctl", "stop", "-m", "immediate", "-w", "-D", c.DataDir).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("pg_ctl stop %s: %w: %s", c.DataDir, err, bytes.TrimSpace(out)))
		}
	}
	errs = append(errs, os.RemoveAll(c.DataDir), os.RemoveAll(c.SocketDir))
	return errors.Join(errs...)
}

// DSN is a libpq/pgx connection string over the unix socket.
func (c *Cluster) DSN() string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", c.SocketDir, c.Port)
}

// TCPDSN is DSN over 127.0.0.1, for code that needs a TCP path (proxies).
func (c *Cluster) TCPDSN() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", c.Port)
}

// Log returns the tail of the server log, for failure messages.
func (c *Cluster) Log() string {
	f, err := os.Open(c.LogFile)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(server log: %v)", err)
	}
	off := max(fi.Size()-logTailBytes, 0)
	buf := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(buf, off)
	buf = buf[:n]
	if off > 0 {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	return string(buf)
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
