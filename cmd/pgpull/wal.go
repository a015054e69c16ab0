package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/pflag"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/walfeed"
)

// defaultWALInterval is the time between two looks at pg_wal unless the command line says.
const defaultWALInterval = 2 * time.Second

// walFlags are pgpull wal's flags.
type walFlags struct {
	interval       time.Duration
	verbose, debug bool
	warm           bool
	acceptGaps     bool
	mode, slot     string
	fromBackup     string
	compress       string
	s3             s3Flags
}

func (w *walFlags) add(fs *pflag.FlagSet) {
	fs.DurationVarP(&w.interval, "interval", "D", defaultWALInterval, "`DELAY` between two looks at pg_wal")
	fs.BoolVar(&w.warm, "warm-standby", false, "copy the segment being written under its final name, for a standby's restore_command (not for a PITR archive)")
	fs.StringVar(&w.slot, "slot", "", "hold WAL with this physical replication slot `NAME` (created if absent; needs REPLICATION)")
	fs.StringVar(&w.mode, "mode", "0600", "permissions of the files written in DIR, in octal `MODE` (0640: readable by DIR's group)")
	fs.BoolVarP(&w.verbose, "verbose", "v", false, "report each file copied on stderr")
	fs.BoolVarP(&w.debug, "debug", "d", false, "show every SQL statement on stderr")
	fs.BoolVar(&w.acceptGaps, "accept-gaps", false, "without a slot, start even when the server may remove WAL before it is copied; report and skip each segment lost")
	fs.StringVar(&w.fromBackup, "from-backup", "", "with --warm-standby: the base backup the standby was restored from (`PATH`: its directory, backup_label or backup_manifest); gaps before its start are skipped")
	fs.StringVar(&w.compress, "compress", "none", "`METHOD` of compressing each file stored in an s3:// archive: none, gzip[:LEVEL], zstd[:LEVEL]")
	w.s3.add(fs)
}

func walCommand(stderr io.Writer) *command {
	fs := newFlags("pgpull wal")
	var flags walFlags
	flags.add(fs)
	return &command{
		name:  "wal",
		usage: "wal [flags] DSN DIR|s3://BUCKET/PREFIX",
		short: "keep DIR fed with the server's WAL, as an archive or for a warm standby, until interrupted",
		long: "Copies each WAL segment of the server (a primary or a standby) into DIR once it is finished,\n" +
			"in order, and each timeline history file; the segment being written is copied as NAME.partial,\n" +
			"again whenever it changes, or with --warm-standby under its final name, so that a standby with\n" +
			"restore_command = 'cp DIR/%f %p' follows the primary over a plain connection. Into\n" +
			"s3://BUCKET/PREFIX each finished segment goes as one object (--compress), read back by\n" +
			"pgpull wal-get. Without --slot it refuses to start unless wal_keep_size covers what it may\n" +
			"fall behind (--accept-gaps for a best-effort feed). A segment removed from the server before it\n" +
			"was copied is an error. Starts after the newest finished segment in DIR, or at the slot's\n" +
			"restart point, or at the latest checkpoint.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("wal needs DSN and DIR (or s3://BUCKET/PREFIX), got %d arguments; see pgpull wal -h", len(args))
			}
			feed, err := flags.feed(ctx, fs, args[1])
			if err != nil {
				return err
			}
			return runWAL(ctx, args[0], feed, flags.verbose, flags.debug, &lineWriter{w: stderr})
		},
	}
}

// feed checks the flags and the archive, before any server is touched, and makes the feed.
func (w walFlags) feed(ctx context.Context, fs *pflag.FlagSet, target string) (*walfeed.Feed, error) {
	if w.interval <= 0 {
		return nil, fmt.Errorf("-D/--interval must be positive, got %s", w.interval)
	}
	perm, err := strconv.ParseUint(w.mode, 8, 32)
	if err != nil || perm&^0o777 != 0 || perm&0o600 != 0o600 {
		return nil, fmt.Errorf("--mode %q is not a file mode this tool can write and read back: give octal permissions such as 0600 or 0640", w.mode)
	}
	spec, err := compress.ParseSpec(w.compress)
	if err != nil {
		return nil, fmt.Errorf("--compress: %w", err)
	}
	if w.fromBackup != "" && !w.warm {
		return nil, fmt.Errorf("--from-backup says what a warm standby needs: use it with --warm-standby (an archive for PITR keeps every segment)")
	}
	feed := &walfeed.Feed{Interval: w.interval, IntervalFlag: "--" + fs.Lookup("interval").Name, WarmStandby: w.warm,
		Slot: w.slot, AcceptGaps: w.acceptGaps}
	if w.fromBackup != "" {
		if feed.Needs, err = walfeed.NeedsOfBackup(w.fromBackup); err != nil {
			return nil, err
		}
	}
	switch scheme := schemeOf(target); scheme {
	case "":
		if spec.Algorithm != compress.None {
			return nil, fmt.Errorf("--compress applies to an s3:// archive: a directory's files are read by cp in restore_command, uncompressed")
		}
		if st, err := os.Stat(target); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%s is not a directory: create it first (mkdir -m 0700 %s)", target, target)
		}
		feed.Archive = walfeed.NewDirArchive(target, os.FileMode(perm))
	case "s3":
		if w.warm {
			return nil, fmt.Errorf("--warm-standby feeds a directory a standby's restore_command copies from: give DIR, not %s", target)
		}
		store, err := w.s3.open(ctx, target)
		if err != nil {
			return nil, err
		}
		feed.Archive = walfeed.NewS3Archive(store, spec)
	default:
		return nil, fmt.Errorf("DIR %q is a %s:// URL, which pgpull wal cannot write to: give a directory or s3://BUCKET/PREFIX", target, scheme)
	}
	return feed, nil
}

// runWAL connects and runs feed, whose options are set, until ctx ends.
func runWAL(ctx context.Context, dsn string, feed *walfeed.Feed, verbose, debug bool, stderr io.Writer) error {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return err
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
	feed.Conn, feed.SegmentSize, feed.WALBlockSize = conn, server.WALSegmentSize, server.WALBlockSize
	feed.Warn = func(format string, args ...any) { fmt.Fprintf(stderr, "pgpull: "+format+"\n", args...) }
	feed.Log = func(string, ...any) {}
	if verbose {
		feed.Log = feed.Warn
	}
	return feed.Run(ctx)
}
