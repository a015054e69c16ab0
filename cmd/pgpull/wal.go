package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/stages/wal"
)

func walCommand(stderr io.Writer) *command {
	fs := newFlags("pgpull wal")
	var interval time.Duration
	var verbose, debug bool
	fs.DurationVarP(&interval, "interval", "D", 2*time.Second, "`DELAY` between two looks at pg_wal")
	fs.BoolVarP(&verbose, "verbose", "v", false, "report each file copied on stderr")
	fs.BoolVarP(&debug, "debug", "d", false, "show every SQL statement on stderr")
	return &command{
		name:  "wal",
		usage: "wal [flags] DSN DIR",
		short: "keep DIR fed with the server's WAL, for a warm standby, until interrupted",
		long: "Copies each WAL segment of the server into DIR, again whenever its change time moves,\n" +
			"so that a standby with restore_command = 'cp DIR/%f %p' follows the primary over a plain\n" +
			"connection. Starts after the newest segment in DIR, or at the latest checkpoint.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("wal needs DSN and DIR, got %d arguments; see pgpull wal -h", len(args))
			}
			if interval <= 0 {
				return fmt.Errorf("-D/--interval must be positive, got %s", interval)
			}
			return runWAL(ctx, args[0], args[1], interval, verbose, debug, &lineWriter{w: stderr})
		},
	}
}

func runWAL(ctx context.Context, dsn, dir string, interval time.Duration, verbose, debug bool, stderr io.Writer) error {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("%s is not a directory: create it first (mkdir -m 0700 %s)", dir, dir)
	}
	cfg.RuntimeParams["application_name"] = "pgpull wal"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return session.ConnectError(err)
	}
	defer conn.Close(context.Background())
	server, err := session.Describe(ctx, conn)
	if err != nil {
		return err
	}
	feed := &wal.Feed{Conn: conn, Dir: dir, SegmentSize: server.WALSegmentSize, Interval: interval,
		LogSQL: func(string) {}, Log: func(string, ...any) {}}
	if verbose {
		feed.Log = func(format string, args ...any) { fmt.Fprintf(stderr, "pgpull: "+format+"\n", args...) }
	}
	if debug {
		feed.LogSQL = func(sql string) { fmt.Fprintf(stderr, "pgpull: SQL: %s\n", oneLine(sql)) }
	}
	return feed.Run(ctx)
}
