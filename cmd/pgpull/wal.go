package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/walfeed"
)

// walFlags are the wal command's settings, as parsed.
type walFlags struct {
	dir      string // -D, as pg_receivewal; or the last argument
	interval time.Duration
	warm     bool
	slot     string
	mode     string
	verbose  bool
	showSQL  bool
	conn     connFlags
}

func walCommand(stdin *os.File, stderr io.Writer) *command {
	var w walFlags
	fs := newFlags("pgpull wal")
	fs.StringVarP(&w.dir, "directory", "D", "", "`DIR` to keep fed, as pg_receivewal -D; then DSN is the only argument, if any")
	fs.DurationVar(&w.interval, "interval", 2*time.Second, "`DELAY` between two looks at pg_wal")
	fs.BoolVar(&w.warm, "warm-standby", false, "copy the segment being written under its final name, for a standby's restore_command (not for a PITR archive)")
	fs.StringVarP(&w.slot, "slot", "S", "", "hold WAL with this physical replication slot `NAME` (created if absent; needs REPLICATION)")
	fs.StringVar(&w.mode, "mode", "0600", "permissions of the files written in DIR, in octal `MODE` (0640: readable by DIR's group)")
	w.conn.add(fs)
	fs.BoolVarP(&w.verbose, "verbose", "v", false, "report each file copied on stderr")
	fs.BoolVar(&w.showSQL, "show-sql", false, "show every SQL statement on stderr")
	refuse(fs, receivewalRefusals()...)
	complete(fs, "directory", dirValue)
	complete(fs, "host", dirValue)
	complete(fs, "mode", "0600", "0640")
	return &command{
		name:  "wal",
		usage: "wal [flags] [DSN] DIR   or   pgpull wal [flags] -D DIR [DSN]",
		short: "keep DIR fed with the server's WAL, as an archive or for a warm standby, until interrupted",
		long: "Copies each WAL segment of the server (a primary or a standby) into DIR once it is finished,\n" +
			"in order; the segment being written is copied as NAME.partial, again whenever it changes, or\n" +
			"with --warm-standby under its final name, so that a standby with restore_command =\n" +
			"'cp DIR/%f %p' follows the primary over a plain connection. A segment removed from the server\n" +
			"before it was copied is an error; --slot prevents it. Starts after the newest finished segment\n" +
			"in DIR, or at the slot's restart point, or at the latest checkpoint. Connection flags and exit\n" +
			"status as for pgpull backup.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			dsn, err := w.arguments(args, stderr)
			if err != nil {
				return usageError(err)
			}
			feed, err := w.feed()
			if err != nil {
				return usageError(err)
			}
			cfg, err := w.conn.config(dsn, stdin, stderr)
			if err != nil {
				return err
			}
			return runWAL(ctx, cfg, feed, w.verbose, w.showSQL, &lineWriter{w: stderr})
		},
	}
}

// arguments reads DSN and DIR from the arguments or -D, and checks the connection flags. The
// old -D DURATION, from before -D was the directory, is still read as the interval when DSN and
// DIR follow it, with a line saying so.
func (w *walFlags) arguments(args []string, stderr io.Writer) (dsn string, err error) {
	if d, derr := time.ParseDuration(w.dir); w.dir != "" && derr == nil && len(args) == 2 {
		fmt.Fprintf(stderr, "pgpull: -D %s as the interval is deprecated: -D is the directory, as in pg_receivewal; use --interval %s\n", w.dir, w.dir)
		w.interval, w.dir = d, ""
	}
	switch {
	case w.dir != "" && len(args) <= 1:
		if len(args) == 1 {
			dsn = args[0]
		}
	case w.dir != "":
		return "", fmt.Errorf("with -D DIR give at most DSN, got %d arguments; see pgpull wal --help", len(args))
	case len(args) == 2:
		dsn, w.dir = args[0], args[1]
	case len(args) == 1 && !looksLikeDSN(args[0]):
		w.dir = args[0]
	default:
		return "", fmt.Errorf("wal needs DIR, after DSN or with -D, got %d %s; see pgpull wal --help",
			len(args), plural(len(args), "argument", "arguments"))
	}
	return dsn, w.conn.check(dsn)
}

// feed is the feed the flags ask for, checked.
func (w *walFlags) feed() (*walfeed.Feed, error) {
	if w.interval <= 0 {
		return nil, fmt.Errorf("--interval must be positive, got %s", w.interval)
	}
	perm, err := strconv.ParseUint(w.mode, 8, 32)
	if err != nil || perm&^0o777 != 0 || perm&0o600 != 0o600 {
		return nil, fmt.Errorf("--mode %q is not a file mode this tool can write and read back: give octal permissions such as 0600 or 0640", w.mode)
	}
	return &walfeed.Feed{Dir: w.dir, Interval: w.interval, WarmStandby: w.warm, Mode: os.FileMode(perm), Slot: w.slot}, nil
}

// runWAL connects and runs feed, whose options are set, until ctx ends.
func runWAL(ctx context.Context, cfg *pgx.ConnConfig, feed *walfeed.Feed, verbose, debug bool, stderr io.Writer) error {
	dir := feed.Dir
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("%s is not a directory: create it first (mkdir -m 0700 %s)", dir, dir)
	}
	cfg.RuntimeParams["application_name"] = "pgpull wal"
	stderr = &lineWriter{w: stderr}
	showSQL(cfg, debug, stderr)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return session.ConnectError(err)
	}
	defer conn.Close(context.Background())
	server, err := session.Describe(ctx, conn)
	if err != nil {
		return err
	}
	feed.Conn, feed.SegmentSize = conn, server.WALSegmentSize
	feed.Log = func(string, ...any) {}
	if verbose {
		feed.Log = func(format string, args ...any) { fmt.Fprintf(stderr, "pgpull: "+format+"\n", args...) }
	}
	return feed.Run(ctx)
}
