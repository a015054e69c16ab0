package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pgpull/pgpull/internal/backupcheck"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/restore"
)

// restoreFlags are the restore command's settings, as parsed.
type restoreFlags struct {
	mapping         restoreMapping
	owner           string
	delta           bool
	noSync          bool
	walArchive      string
	targetTime      string
	targetLSN       string
	targetName      string
	targetAction    string
	standby         bool
	primaryConninfo string
	tempDir         string
	progress        bool
	verbose         bool
	summary         string
	s3              s3Flags
	reads           *s3Reads
}

func restoreCommand(stdin io.Reader, stderr io.Writer) *command {
	f := restoreFlags{mapping: restoreMapping{}, reads: &s3Reads{}}
	fs := newFlags("pgpull restore")
	fs.VarP(f.mapping, "tablespace-mapping", "T", "put the tablespace the server kept in OLDDIR (or whose OID is OLDDIR) in NEWDIR, as `OLDDIR=NEWDIR`")
	fs.StringVar(&f.owner, "owner", "", "give every file to `USER[:GROUP]`, the account the server runs as (root only, for another user)")
	fs.BoolVar(&f.delta, "delta", false, "DIR holds a data directory: write only the files that differ from the backup, remove what it lacks")
	fs.BoolVarP(&f.noSync, "no-sync", "N", false, "do not fsync what was written")
	fs.StringVar(&f.walArchive, "wal-archive", "", "recover from the WAL archive `DIR` pgpull wal keeps (restore_command; s3://BUCKET/PREFIX: with pgpull wal-get), to the end or to a target")
	fs.StringVar(&f.targetTime, "target-time", "", "stop recovery at `TIME` (2026-05-01 14:30:00+02; local time without a zone)")
	fs.StringVar(&f.targetLSN, "target-lsn", "", "stop recovery at `LSN`")
	fs.StringVar(&f.targetName, "target-name", "", "stop recovery at the restore point `NAME` (pg_create_restore_point)")
	fs.StringVar(&f.targetAction, "target-action", "", "`ACTION` at the target: pause (PostgreSQL's default), promote or shutdown")
	fs.BoolVar(&f.standby, "standby", false, "start as a standby (standby.signal): from --wal-archive, --primary-conninfo, or both")
	fs.StringVar(&f.primaryConninfo, "primary-conninfo", "", "the standby streams from `CONNINFO` (primary_conninfo)")
	fs.StringVar(&f.tempDir, "temp-dir", "", "`DIR` for a chain's backups while they are combined (default: beside DIR)")
	fs.BoolVarP(&f.progress, "progress", "P", false, "progress on stderr, a line every 3 s")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "say what is done, and what was restored")
	fs.StringVar(&f.summary, "summary", "", "write one JSON object at the end to `FILE` (- for stderr)")
	f.s3.add(fs)
	f.reads.add(fs)
	return &command{
		name:  "restore",
		usage: "restore [flags] SOURCE... DIR",
		short: "restore a backup into a data directory that starts",
		long: "SOURCE is what pgpull backup wrote: a plain directory, a -F tar directory, a file holding a tar\n" +
			"stream (plain, gzip, zstd or lz4), - for a stream on stdin, or an s3://BUCKET/PREFIX. Several SOURCEs\n" +
			"are a chain, the full backup first, then each incremental one; they are combined on the way.\n" +
			"Every file is checked against backup_manifest (and the WAL read record by record) as it is\n" +
			"written: DIR holds pgpull_incomplete and no global/pg_control until the whole backup checks out,\n" +
			"and a restore that fails removes what it wrote. DIR must be absent or empty, unless --delta.\n" +
			"Tablespaces go where the server kept them (tablespace_map), or where -T says, linked from\n" +
			"DIR/pg_tblspc. Recovery settings (--wal-archive, --target-*, --standby) go into\n" +
			"postgresql.auto.conf with recovery.signal or standby.signal.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			return runRestore(ctx, f, args, stdin, stderr)
		},
	}
}

func runRestore(ctx context.Context, f restoreFlags, args []string, stdin io.Reader, stderr io.Writer) error {
	if len(args) < 2 {
		return exitError{exitUsage, fmt.Errorf("restore needs a SOURCE and the DIR to restore into, got %d arguments; see pgpull restore -h", len(args))}
	}
	opts := restore.Options{Dir: args[len(args)-1], Mapping: f.mapping, Delta: f.delta, NoSync: f.noSync,
		Checker: backupcheck.NewChecker(), TempDir: f.tempDir}
	var err error
	walGet := ""
	if schemeOf(f.walArchive) == "s3" {
		if walGet, err = walGetLine(ctx, f.s3, f.walArchive); err != nil {
			return err
		}
	}
	if opts.Recovery, err = f.recovery(walGet); err != nil {
		return exitError{exitUsage, err}
	}
	if f.owner != "" {
		if opts.Owner, err = restore.LookupOwner(f.owner); err != nil {
			return err
		}
	}
	if strings.HasPrefix(opts.Dir, "s3://") || opts.Dir == "-" {
		return exitError{exitUsage, fmt.Errorf("DIR %q: restore writes a data directory; give its path last, after the SOURCEs", opts.Dir)}
	}
	if err := f.reads.check(); err != nil {
		return exitError{exitUsage, err}
	}
	if opts.Sources, err = f.sources(ctx, args[:len(args)-1], stdin); err != nil {
		return err
	}
	out, err := openRestoreOutput(f, stderr)
	if err != nil {
		return err
	}
	opts.Log, opts.Observe = out.log, out.observe
	res, err := restore.Run(ctx, opts)
	f.reads.report(out.log)
	out.finish(opts, res, err)
	return err
}

// recovery turns the recovery flags into settings, refusing what does not parse; walGet is
// restore_command for an S3 archive.
func (f restoreFlags) recovery(walGet string) (restore.Recovery, error) {
	r := restore.Recovery{WALArchive: f.walArchive, WALGet: walGet, TargetName: f.targetName, TargetAction: f.targetAction,
		Standby: f.standby, PrimaryConninfo: f.primaryConninfo}
	if f.targetTime != "" {
		t, err := restore.ParseTargetTime(f.targetTime, time.Local)
		if err != nil {
			return r, err
		}
		r.TargetTime = &t
	}
	if f.targetLSN != "" {
		lsn, err := pgformat.ParseLSN(f.targetLSN)
		if err != nil {
			return r, fmt.Errorf("--target-lsn %q: write an LSN as PostgreSQL does, as 0/3000060", f.targetLSN)
		}
		r.TargetLSN = &lsn
	}
	return r, r.Check()
}

// restoreStdinPipe is the buffer asked of a pipe on stdin (growPipe), so that the writer (ssh, a
// decompressor) puts up to 1 MiB in at a time, as pgpull backup's stream leaves in.
const restoreStdinPipe = 1 << 20

// sources opens each SOURCE: a path, - for stdin (once), or an s3:// prefix.
func (f restoreFlags) sources(ctx context.Context, args []string, stdin io.Reader) ([]restore.Source, error) {
	var out []restore.Source
	for _, arg := range args {
		src := restore.Source{Name: arg}
		switch scheme := schemeOf(arg); {
		case arg == "-":
			if file, ok := stdin.(*os.File); ok && isTerminal(file) {
				return nil, fmt.Errorf("refusing to read a tar stream from a terminal: pipe a backup in, or give its path")
			}
			if slicesContainStdin(out) {
				return nil, exitError{exitUsage, fmt.Errorf("- (stdin) can be given once")}
			}
			if file, ok := stdin.(*os.File); ok {
				growPipe(file, restoreStdinPipe)
			}
			src.Name, src.Stream = "stdin", stdin
		case scheme == "s3":
			store, err := f.s3.open(ctx, arg)
			if err != nil {
				return nil, err
			}
			src.Objects = f.reads.objects(store)
		case scheme != "":
			return nil, unsupportedURL("SOURCE", arg, scheme)
		default:
			if _, err := os.Stat(arg); err != nil {
				return nil, fmt.Errorf("SOURCE %s: %w", arg, err)
			}
			src.Path = arg
		}
		out = append(out, src)
	}
	return out, nil
}

func slicesContainStdin(srcs []restore.Source) bool {
	for _, s := range srcs {
		if s.Stream != nil {
			return true
		}
	}
	return false
}

// restoreMapping is restore's -T OLD=NEW: OLD is where the server kept the tablespace (an
// absolute path, as pg_basebackup takes it) or, since a tar stream does not say where, its OID.
type restoreMapping map[string]string

func (m restoreMapping) String() string { return "" }

// Type names the value in the flag parser's messages.
func (m restoreMapping) Type() string { return "OLDDIR=NEWDIR" }

func (m restoreMapping) Set(v string) error {
	if oid, dir, ok := strings.Cut(v, "="); ok && oid != "" && strings.Trim(oid, "0123456789") == "" {
		if !strings.HasPrefix(dir, "/") {
			return fmt.Errorf("invalid tablespace mapping %q: write -T OID=/new/location, the new location absolute", v)
		}
		m[oid] = strings.TrimSuffix(dir, "/")
		return nil
	}
	return tablespaceMapping(m).Set(v)
}
