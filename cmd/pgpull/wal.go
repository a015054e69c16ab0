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

func walCommand(stderr io.Writer) *command {
	fs := newFlags("pgpull wal")
	var interval time.Duration
	var verbose, debug, warm bool
	var mode, slot string
	fs.DurationVarP(&interval, "interval", "D", 2*time.Second, "`DELAY` between two looks at pg_wal")
	fs.BoolVar(&warm, "warm-standby", false, "copy the segment being written under its final name, for a standby's restore_command (not for a PITR archive)")
	fs.StringVar(&slot, "slot", "", "hold WAL with this physical replication slot `NAME` (created if absent; needs REPLICATION)")
	fs.StringVar(&mode, "mode", "0600", "permissions of the files written in DIR, in octal `MODE` (0640: readable by DIR's group)")
	fs.BoolVarP(&verbose, "verbose", "v", false, "report each file copied on stderr")
	fs.BoolVarP(&debug, "debug", "d", false, "show every SQL statement on stderr")
	return &command{
		name:  "wal",
		usage: "wal [flags] DSN DIR",
		short: "keep DIR fed with the server's WAL, as an archive or for a warm standby, until interrupted",
		long: "Copies each WAL segment of the server (a primary or a standby) into DIR once it is finished,\n" +
			"in order; the segment being written is copied as NAME.partial, again whenever it changes, or\n" +
			"with --warm-standby under its final name, so that a standby with restore_command =\n" +
			"'cp DIR/%f %p' follows the primary over a plain connection. A segment removed from the server\n" +
			"before it was copied is an error; --slot prevents it. Starts after the newest finished segment\n" +
			"in DIR, or at the slot's restart point, or at the latest checkpoint.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("wal needs DSN and DIR, got %d arguments; see pgpull wal -h", len(args))
			}
			if interval <= 0 {
				return fmt.Errorf("-D/--interval must be positive, got %s", interval)
			}
			perm, err := strconv.ParseUint(mode, 8, 32)
			if err != nil || perm&^0o777 != 0 || perm&0o600 != 0o600 {
				return fmt.Errorf("--mode %q is not a file mode this tool can write and read back: give octal permissions such as 0600 or 0640", mode)
			}
			feed := &walfeed.Feed{Dir: args[1], Interval: interval, WarmStandby: warm, Mode: os.FileMode(perm), Slot: slot}
			return runWAL(ctx, args[0], feed, verbose, debug, &lineWriter{w: stderr})
		},
	}
}

// runWAL connects and runs feed, whose options are set, until ctx ends.
func runWAL(ctx context.Context, dsn string, feed *walfeed.Feed, verbose, debug bool, stderr io.Writer) error {
	dir := feed.Dir
	cfg, err := parseDSN(dsn)
	if err != nil {
		return err
	}
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
