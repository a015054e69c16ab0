package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Config names a connection for what it does, so that pg_stat_activity tells them apart, and
// turns JIT off: the planner cannot count the rows of pg_ls_dir, judges the listing query costly,
// and JIT-compiled it in 150 ms of a backup that then read 38 MB in 50 ms.
func Config(cfg *pgx.ConnConfig, name string) *pgx.ConnConfig {
	c := cfg.Copy()
	c.RuntimeParams["application_name"] = name
	c.RuntimeParams["jit"] = "off"
	return c
}

// Connect opens a pgx connection for one of the run's sessions, named name.
func Connect(ctx context.Context, cfg *pgx.ConnConfig, name string) (*pgx.Conn, error) {
	return connect(ctx, Config(cfg, name))
}

// ConnectUnprepared opens a connection, named name, whose statements each take one round trip.
// pgx otherwise prepares a statement the first time it runs on a connection, in a round trip of
// its own, and the control, list and WAL sessions run most of theirs once: about 13 round trips
// at a backup's start, 0.5 s through a 20 ms link. Parameters and results then travel as text,
// in the forms pgx reads: ISO dates, hex bytea.
func ConnectUnprepared(ctx context.Context, cfg *pgx.ConnConfig, name string) (*pgx.Conn, error) {
	c := Config(cfg, name)
	c.DefaultQueryExecMode = pgx.QueryExecModeExec
	c.RuntimeParams["DateStyle"] = "ISO"
	c.RuntimeParams["bytea_output"] = "hex"
	return connect(ctx, c)
}

func connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, connectError(ctx, err)
	}
	return conn, nil
}

// connectError is ConnectError, unless the caller's ctx ended the attempt: then its cause is
// what happened, not the server (a stalled read's timer, an interrupt, another stage's failure).
func connectError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("connecting: %w", context.Cause(ctx))
	}
	return ConnectError(err)
}

// ConnectRaw opens a pgconn connection, for the fetch workers, which read bytea rows without
// copying them through pgx's row scanning.
func ConnectRaw(ctx context.Context, cfg *pgx.ConnConfig, name string) (*pgconn.PgConn, error) {
	conn, err := pgconn.ConnectConfig(ctx, &Config(cfg, name).Config)
	if err != nil {
		return nil, connectError(ctx, err)
	}
	return conn, nil
}

// ConnectError says in one line where pgpull tried to connect, why it could not and what to try,
// never carrying the password: pgx's own message quotes its configuration and repeats each
// address it tried.
func ConnectError(err error) error {
	where := ""
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Config != nil {
		where = fmt.Sprintf(" as user %s", ce.Config.User)
		if ce.Config.Database != "" {
			where += " to database " + ce.Config.Database
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "28P01" && ce != nil && ce.Config != nil && ce.Config.Password == "" {
		// pgx answers a password request with an empty password, and the server's reply would
		// blame a password never given; libpq says "no password supplied" instead.
		return fmt.Errorf("cannot connect%s: the server asks for a password and none was given; "+
			"give it with PGPASSWORD, ~/.pgpass or password= in the DSN, or -W to be asked", where)
	}
	if errors.As(err, &pgErr) {
		hint := map[string]string{
			"28P01": "; give the password with password= in the DSN, PGPASSWORD or ~/.pgpass, or -W to be asked",
			"28000": "; the server's pg_hba.conf has no line letting this user in from here",
			"3D000": "; name an existing database with dbname= in the DSN",
		}[pgErr.Code]
		return fmt.Errorf("cannot connect%s: %s%s", where, pgErr.Message, hint)
	}
	var addrs, causes []string
	for _, op := range opErrors(err) {
		addr := op.Addr.String()
		if op.Net == "unix" {
			addr = "socket " + addr
		}
		addrs = appendNew(addrs, addr)
		causes = appendNew(causes, dialCause(op.Err))
	}
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return fmt.Errorf("cannot connect: host %s not found; check host= in the DSN or PGHOST", dns.Name)
	case timedOut(err):
		if len(addrs) == 0 && ce != nil && ce.Config != nil {
			addrs = []string{serverAddress(ce.Config.Host, ce.Config.Port)}
		}
		wait := "connect_timeout"
		if ce != nil && ce.Config != nil && ce.Config.ConnectTimeout > 0 {
			wait = Seconds(ce.Config.ConnectTimeout)
		}
		return fmt.Errorf("the server at %s did not answer the connection within %s; check the DSN's host and port and any "+
			"firewall between (connect_timeout=SECONDS in the DSN sets the wait)", strings.Join(addrs, " and "), wait)
	case len(addrs) > 0:
		return fmt.Errorf("cannot connect to %s%s: %s; check that the server runs there and the DSN's host and port (or PGHOST, PGPORT)",
			strings.Join(addrs, " and "), where, strings.Join(causes, ", "))
	case ce != nil:
		return fmt.Errorf("cannot connect%s: %s", where, ce.Unwrap())
	}
	return fmt.Errorf("cannot connect: %w", err)
}

// opErrors finds every dial error in err's tree: pgx joins one per address it tried.
func opErrors(err error) []*net.OpError {
	var found []*net.OpError
	var walk func(error)
	walk = func(e error) {
		if op, ok := e.(*net.OpError); ok {
			found = append(found, op)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			if c := u.Unwrap(); c != nil {
				walk(c)
			}
		}
	}
	walk(err)
	return found
}

// timedOut tells a connection that got no answer in time: pgx's connect_timeout ends the attempt
// with its context's deadline, or the dial with a network timeout.
func timedOut(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	for _, op := range opErrors(err) {
		var ne net.Error
		if errors.As(op, &ne) && ne.Timeout() {
			return true
		}
	}
	return false
}

// serverAddress is host and port as ConnectError names them: host:port, or a Unix socket's path.
func serverAddress(host string, port uint16) string {
	if strings.HasPrefix(host, "/") {
		return fmt.Sprintf("socket %s/.s.PGSQL.%d", host, port)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// Seconds is d as messages give a wait: "30 s", "1.5 s", "0.05 s".
func Seconds(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		d = d.Round(time.Second)
	case d >= time.Second:
		d = d.Round(100 * time.Millisecond)
	default:
		d = d.Round(time.Millisecond)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

func dialCause(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ENOENT):
		return "no such socket"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer (timed out)"
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
