package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/walfeed"
)

// defaultWALInterval is the time between two looks at pg_wal unless --interval says.
const defaultWALInterval = 2 * time.Second

// walFlags are the wal command's settings, as parsed.
type walFlags struct {
	dir        string // -D, as pg_receivewal; or the last argument; a directory or s3://BUCKET/PREFIX
	interval   time.Duration
	warm       bool
	acceptGaps bool
	slot       string
	mode       string
	fromBackup string
	compress   string
	verbose    bool
	showSQL    bool
	conn       connFlags
	s3         s3Flags
}

func walCommand(stdin *os.File, stderr io.Writer) *command {
	var w walFlags
	fs := newFlags("pgpull wal")
	fs.StringVarP(&w.dir, "directory", "D", "", "`DIR` to keep fed (or s3://BUCKET/PREFIX), as pg_receivewal -D; then DSN is the only argument, if any")
	fs.DurationVar(&w.interval, "interval", defaultWALInterval, "`DELAY` between two looks at pg_wal")
	fs.BoolVar(&w.warm, "warm-standby", false, "copy the segment being written under its final name, for a standby's restore_command (not for a PITR archive)")
	fs.StringVarP(&w.slot, "slot", "S", "", "hold WAL with this physical replication slot `NAME` (created if absent; needs REPLICATION)")
	fs.StringVar(&w.mode, "mode", "0600", "permissions of the files written in DIR, in octal `MODE` (0640: readable by DIR's group)")
	fs.BoolVar(&w.acceptGaps, "accept-gaps", false, "without a slot, start even when the server may remove WAL before it is copied; report and skip each segment lost")
	fs.StringVar(&w.fromBackup, "from-backup", "", "with --warm-standby: the base backup the standby was restored from (`PATH`: its directory, backup_label or backup_manifest); gaps before its start are skipped")
	fs.StringVarP(&w.compress, "compress", "Z", "none", "`METHOD` of compressing each file stored in an s3:// archive: none, gzip[:LEVEL], zstd[:LEVEL] (a directory keeps them as they are, for cp in restore_command)")
	w.s3.add(fs)
	w.conn.add(fs)
	fs.BoolVarP(&w.verbose, "verbose", "v", false, "report each file copied on stderr")
	fs.BoolVar(&w.showSQL, "show-sql", false, "show every SQL statement on stderr")
	refuse(fs, receivewalRefusals()...)
	complete(fs, "directory", dirValue)
	complete(fs, "host", dirValue)
	complete(fs, "mode", "0600", "0640")
	return &command{
		name:  "wal",
		usage: "wal [flags] [DSN] DIR|s3://BUCKET/PREFIX   or   pgpull wal [flags] -D DIR [DSN]",
		short: "keep DIR fed with the server's WAL, as an archive or for a warm standby, until interrupted",
		long: "Copies each WAL segment of the server (a primary or a standby) into DIR once it is finished,\n" +
			"in order, and each timeline history file; the segment being written is copied as NAME.partial,\n" +
			"again whenever it changes, or with --warm-standby under its final name, so that a standby with\n" +
			"restore_command = 'cp DIR/%f %p' follows the primary over a plain connection. Into\n" +
			"s3://BUCKET/PREFIX each finished segment goes as one object (--compress), read back by\n" +
			"pgpull wal-get. Without --slot it refuses to start unless wal_keep_size covers what it may\n" +
			"fall behind (--accept-gaps for a best-effort feed). A segment removed from the server before it\n" +
			"was copied is an error. Starts after the newest finished segment in DIR, or at the slot's\n" +
			"restart point, or at the latest checkpoint. Connection flags and exit status as for pgpull backup.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			dsn, err := w.arguments(args, stderr)
			if err != nil {
				return usageError(err)
			}
			feed, err := w.feed(ctx)
			if err != nil {
				return err
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

// feed checks the flags and the archive, before any server is touched, and makes the feed.
func (w *walFlags) feed(ctx context.Context) (*walfeed.Feed, error) {
	if w.interval <= 0 {
		return nil, usageError(fmt.Errorf("--interval must be positive, got %s", w.interval))
	}
	perm, err := strconv.ParseUint(w.mode, 8, 32)
	if err != nil || perm&^0o777 != 0 || perm&0o600 != 0o600 {
		return nil, usageError(fmt.Errorf("--mode %q is not a file mode this tool can write and read back: give octal permissions such as 0600 or 0640", w.mode))
	}
	spec, err := compress.ParseSpec(w.compress)
	if err != nil {
		return nil, usageError(fmt.Errorf("--compress: %w", err))
	}
	if w.fromBackup != "" && !w.warm {
		return nil, usageError(fmt.Errorf("--from-backup says what a warm standby needs: use it with --warm-standby (an archive for PITR keeps every segment)"))
	}
	feed := &walfeed.Feed{Interval: w.interval, IntervalFlag: "--interval", WarmStandby: w.warm, Slot: w.slot, AcceptGaps: w.acceptGaps}
	if w.fromBackup != "" {
		if feed.Needs, err = walfeed.NeedsOfBackup(w.fromBackup); err != nil {
			return nil, err
		}
	}
	if feed.Archive, err = w.archive(ctx, spec, os.FileMode(perm)); err != nil {
		return nil, err
	}
	return feed, nil
}

// archive is where the feed writes: a directory, or an S3 prefix whose bucket is checked now.
func (w *walFlags) archive(ctx context.Context, spec compress.Spec, perm os.FileMode) (walfeed.Archive, error) {
	switch scheme := schemeOf(w.dir); scheme {
	case "":
		if spec.Algorithm != compress.None {
			return nil, usageError(fmt.Errorf("--compress applies to an s3:// archive: a directory's files are read by cp in restore_command, uncompressed"))
		}
		if st, err := os.Stat(w.dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%s is not a directory: create it first (mkdir -m 0700 %s)", w.dir, w.dir)
		}
		return walfeed.NewDirArchive(w.dir, perm), nil
	case "s3":
		if w.warm {
			return nil, usageError(fmt.Errorf("--warm-standby feeds a directory a standby's restore_command copies from: give DIR, not %s", w.dir))
		}
		store, err := w.s3.open(ctx, w.dir)
		if err != nil {
			return nil, err
		}
		return walfeed.NewS3Archive(store, spec), nil
	default:
		return nil, usageError(fmt.Errorf("DIR %q is a %s:// URL, which pgpull wal cannot write to: give a directory or s3://BUCKET/PREFIX", w.dir, scheme))
	}
}

// runWAL connects and runs feed, whose options are set, until ctx ends.
func runWAL(ctx context.Context, cfg *pgx.ConnConfig, feed *walfeed.Feed, verbose, debug bool, stderr io.Writer) error {
	cfg.RuntimeParams["application_name"] = "pgpull wal"
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
	feed.Conn, feed.SegmentSize, feed.WALBlockSize = conn, server.WALSegmentSize, server.WALBlockSize
	feed.Warn = func(format string, args ...any) { fmt.Fprintf(stderr, "pgpull: "+format+"\n", args...) }
	feed.Log = func(string, ...any) {}
	if verbose {
		feed.Log = feed.Warn
	}
	return feed.Run(ctx)
}
