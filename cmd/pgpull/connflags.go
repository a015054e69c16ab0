package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/pflag"
)

// connFlags are libpq's connection options as pg_basebackup, pg_receivewal and psql spell them.
// They combine with the DSN argument, or stand instead of it: -d is the connection string, and
// -h, -p and -U override what it says, as in libpq's tools.
type connFlags struct {
	dbname      string // -d: a connection string, a URI or a database name
	host        string
	port        string
	username    string
	noPassword  bool // -w: pgpull asks for a password only with -W anyway
	askPassword bool // -W
}

func (c *connFlags) add(fs *pflag.FlagSet) {
	fs.StringVarP(&c.dbname, "dbname", "d", "", "connection string, URI or database name (`CONNSTR`), in place of the DSN argument, as pg_basebackup -d")
	fs.StringVarP(&c.host, "host", "h", "", "server `HOST` name or socket directory, over the DSN's")
	fs.StringVarP(&c.port, "port", "p", "", "server `PORT`, over the DSN's")
	fs.StringVarP(&c.username, "username", "U", "", "connect as user `NAME`, over the DSN's")
	fs.BoolVarP(&c.noPassword, "no-password", "w", false, "never ask for a password (pgpull asks only with -W)")
	fs.BoolVarP(&c.askPassword, "password", "W", false, "ask for the password on the terminal")
	skipEnv(fs, "password")
}

// given reports whether -d names the connection, so that no DSN argument is expected.
func (c connFlags) given() bool { return c.dbname != "" }

// check holds the flags to what libpq would take, before any server is touched. dsn is the DSN
// argument, "" when there is none.
func (c connFlags) check(dsn string) error {
	switch {
	case dsn != "" && c.dbname != "":
		return fmt.Errorf("the connection is given twice, as DSN %s and as -d: give one", describeDSN(dsn))
	case c.noPassword && c.askPassword:
		return fmt.Errorf("-w (never ask for a password) and -W (ask for it) exclude each other")
	case strings.ContainsAny(c.host, "= \t\n"):
		return fmt.Errorf("-h/--host takes a host name or socket directory, not a connection string: " +
			"give that as DSN or with -d (help is --help)")
	}
	if c.port != "" {
		if n, err := strconv.Atoi(c.port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("-p/--port %q is no TCP port: use a number from 1 to 65535", c.port)
		}
	}
	return nil
}

// describeDSN names a DSN in an error without showing a password it may hold.
func describeDSN(dsn string) string {
	if strings.Contains(dsn, "password") || strings.Contains(dsn, "@") {
		return "(as given)"
	}
	return strconv.Quote(dsn)
}

// connString is the connection string to parse: the DSN argument or -d, with -h, -p and -U put
// over what it says. A URI takes them as query parameters, which libpq and pgx read last.
func (c connFlags) connString(dsn string) string {
	base := dsn
	if c.dbname != "" {
		base = c.dbname
		if !isURI(base) && !strings.Contains(base, "=") {
			base = "dbname=" + quoteConninfo(base) // -d NAME is a database name, as in libpq's tools
		}
	}
	over := [][2]string{{"host", c.host}, {"port", c.port}, {"user", c.username}}
	if isURI(base) {
		q := url.Values{}
		for _, kv := range over {
			if kv[1] != "" {
				q.Set(kv[0], kv[1])
			}
		}
		if len(q) == 0 {
			return base
		}
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		return base + sep + q.Encode()
	}
	for _, kv := range over {
		if kv[1] != "" {
			base += " " + kv[0] + "=" + quoteConninfo(kv[1])
		}
	}
	return strings.TrimSpace(base)
}

// isURI tells a postgres:// or postgresql:// URI from a keyword/value connection string.
func isURI(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// config parses the connection, a usage error when it cannot be read, and asks for the password
// on stdin's terminal with -W.
func (c connFlags) config(dsn string, stdin *os.File, prompt io.Writer) (*pgx.ConnConfig, error) {
	cfg, err := c.parse(dsn)
	if err != nil {
		return nil, err
	}
	return cfg, c.ask(cfg, stdin, prompt)
}

// parse reads the connection the DSN and the flags make; an error is a usage error.
func (c connFlags) parse(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := parseDSN(c.connString(dsn))
	if err != nil {
		return nil, usageError(err)
	}
	return cfg, nil
}

// ask reads the password from stdin's terminal into cfg with -W, as pg_basebackup -W does.
func (c connFlags) ask(cfg *pgx.ConnConfig, stdin *os.File, prompt io.Writer) error {
	if !c.askPassword {
		return nil
	}
	pw, err := askPassword(stdin, prompt, cfg.User)
	cfg.Password = pw
	return err
}

// looksLikeDSN tells a connection string or URI from a path, for an argument whose place says
// neither.
func looksLikeDSN(s string) bool {
	return isURI(s) || keywordValue.MatchString(s)
}

// keywordValue matches the start of a keyword/value connection string.
var keywordValue = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)
