package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"golang.org/x/term"

	"github.com/jackc/pgx/v5"
	"github.com/pgpull/pgpull/backup"
	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/sinks"
)

// defaultJobs is the -j default; bench/RESULTS.md has the measurement behind it.
const defaultJobs = 4

// backupFlags are the backup command's settings, as parsed.
type backupFlags struct {
	jobs          jobsFlag
	checkpoint    string
	label         string
	force         bool
	rangeSize     string
	mapping       tablespaceMapping
	noSync        bool
	verbose       bool
	debug         bool
	walInterval   time.Duration
	ioTimeout     time.Duration
	maxRate       string
	format        string
	compress      string
	manifestSums  string
	noManifest    bool
	noVerifyPages bool
	noCheckWAL    bool
	pgdata        string
	recoveryConf  bool
	askPassword   bool
	walMethod     string
	summary       string
	progress      bool
	requireSlot   bool
	events        string

	serverCompress bool // read through pgpull's helper function, which compresses on the server
	refresh        bool
	cpuProfile     string // hidden: where to write a CPU profile of the run (bench/README.md, PGO)

	s3 s3Flags
}

// defaultIOTimeout is --io-timeout's default. Measured: the longest silence a fetch connection
// saw between two rows, or between its query and the first, through the bench's 20 ms / 200 Mbit
// link under pgbench load, on 2 loaded cores, was 0.4-0.6 s at -j 4 and 2.6-3.1 s at -j 16
// (pgbench -s 20, 300 MB). 30 s is ten times the worst, and with the fetch workers' minute of
// retries (backup.Tuning.FetchRetryFor) a dead server ends the backup within two minutes; the
// five minutes it replaces held a silent link for about fifteen.
const defaultIOTimeout = 30 * time.Second

func backupCommand(stdin *os.File, stdout, stderr io.Writer) *command {
	f := backupFlags{mapping: tablespaceMapping{}}
	fs := newFlags("pgpull backup")
	f.jobs.n = defaultJobs
	fs.VarP(&f.jobs, "jobs", "j", "`N` parallel fetch connections, or auto: from 2 up while the throughput rises")
	fs.StringVarP(&f.checkpoint, "checkpoint", "c", "spread", "checkpoint at start: `fast|spread`")
	fs.StringVarP(&f.label, "label", "l", "pgpull base backup", "backup `LABEL`")
	fs.StringVarP(&f.format, "format", "F", "", "output `FORMAT` for a directory DEST: plain (p) or tar (t); -Ft, -Fp as pg_basebackup")
	fs.StringVarP(&f.compress, "compress", "z", "none", "`METHOD` of compressing tar output: none, gzip[:LEVEL], zstd[:LEVEL]")
	fs.StringVarP(&f.pgdata, "pgdata", "D", "", "`DEST`, as pg_basebackup -D; then the only argument is DSN")
	fs.BoolVarP(&f.force, "force", "f", false, "replace an earlier backup in the destination directory")
	fs.BoolVar(&f.refresh, "refresh", false, "bring the earlier or unfinished plain backup in DEST up to date, moving only the blocks that differ")
	fs.StringVar(&f.rangeSize, "range-size", "8MB", "`SIZE` fetched per request")
	fs.VarP(f.mapping, "tablespace-mapping", "T", "relocate the tablespace in `OLDDIR=NEWDIR` (plain format)")
	fs.BoolVarP(&f.noSync, "no-sync", "N", false, "do not fsync what was written")
	fs.StringVarP(&f.maxRate, "max-rate", "r", "", "cap on the transfer `RATE` of all jobs together, at least 32k: 150M or 64k (kB/s when bare)")
	fs.DurationVar(&f.walInterval, "wal-interval", 2*time.Second, "how often the WAL scanner looks at pg_wal")
	fs.DurationVar(&f.ioTimeout, "io-timeout", defaultIOTimeout, "how long the server may be silent while pgpull waits on it: a fetch connection then reconnects, the control session ends the backup")
	fs.StringVar(&f.manifestSums, "manifest-checksums", "CRC32C", "file checksum `ALGORITHM` in backup_manifest: CRC32C, SHA224, SHA256, SHA384, SHA512 or NONE")
	fs.BoolVar(&f.noManifest, "no-manifest", false, "write no backup_manifest")
	fs.BoolVar(&f.noVerifyPages, "no-verify-checksums", false, "do not verify data page checksums")
	fs.BoolVar(&f.serverCompress, "server-compress", false, "compress on the server with pgpull's helper function (see pgpull grants --server-compress)")
	fs.BoolVar(&f.noCheckWAL, "no-check-wal", false, "do not read the WAL's records as they are copied (they are, by default, up to the stop LSN)")
	fs.BoolVarP(&f.recoveryConf, "write-recovery-conf", "R", false, "make the copy a standby of the server: standby.signal and primary_conninfo")
	fs.BoolVarP(&f.askPassword, "password", "W", false, "ask for the password on the terminal")
	fs.StringVarP(&f.walMethod, "wal-method", "X", "stream", "pg_basebackup's -X `METHOD`: stream and fetch both mean what pgpull always does, the WAL in the backup")
	fs.BoolVar(&f.requireSlot, "require-slot", false, "refuse to start unless a temporary replication slot will hold the WAL the backup needs")
	fs.BoolVarP(&f.progress, "progress", "P", false, "show progress on stderr: a bar on a terminal, a line every few seconds elsewhere")
	fs.StringVar(&f.summary, "summary", "", "write a JSON summary of the run to `FILE` at the end (- for stderr); docs/events.md")
	fs.StringVar(&f.events, "events", "", "write JSON lines of the run's progress to `FD|FILE`, the summary last; docs/events.md")
	f.s3.add(fs)
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "report progress on stderr")
	fs.BoolVarP(&f.debug, "debug", "d", false, "show every SQL statement on stderr")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the backup to `FILE`")
	_ = fs.MarkHidden("cpuprofile") // for the profile behind PGO (bench/README.md), not for users
	return &command{
		name:  "backup",
		usage: "backup [flags] DSN DEST",
		short: "take a base backup; DEST is - for a tar stream on stdout, or a directory",
		long: "DSN is a libpq connection string or URI; PG* variables, ~/.pgpass and service files apply.\n" +
			"Flags may come before or after DSN and DEST.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			return runBackup(ctx, f, args, stdin, stdout, stderr)
		},
	}
}

func runBackup(ctx context.Context, f backupFlags, args []string, stdin *os.File, stdout, stderr io.Writer) (err error) {
	dsn, location, err := f.destination(args)
	if err != nil {
		return err
	}
	if scheme := schemeOf(location); scheme != "" && scheme != "s3" {
		return unsupportedURL("DEST", location, scheme)
	}
	logw := &lineWriter{w: stderr} // the stages log from many goroutines
	opts, spec, err := f.options(stderr, logw)
	if err != nil {
		return err
	}
	dest, err := sinks.ParseDestination(location, sinks.DestinationFlags{Format: f.format, Compress: spec,
		Mapping: f.mapping, Force: f.force, NoSync: f.noSync, Refresh: f.refresh})
	if err != nil {
		return err
	}
	if file, ok := stdout.(*os.File); ok && dest.Format == sinks.Stream && location == "-" && isTerminal(file) {
		return fmt.Errorf("refusing to write a tar stream to a terminal: redirect stdout, or give a directory as DEST")
	}
	if f.cpuProfile != "" {
		stopProfile, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if sinks.IsS3(location) {
		// Before the server: a missing bucket or refused credentials cost one line, nothing else.
		// The part buffers are a share of the in-flight bytes, not an addition to them.
		opts.SinkBytes = opts.SinkShare()
	}
	if err := dest.Reach(ctx, f.s3.config(), opts.SinkBytes); err != nil {
		return err
	}
	opts.TablespaceMap = dest.Format == sinks.TarDir
	opts.Refresh = f.refresh
	mo, err := openMachineOutput(f.summary, f.events, stderr, string(dest.Format), spec.String())
	if err != nil {
		return err
	}
	defer func() { mo.close(err, ctx.Err() != nil) }()
	logObserve := opts.Observe
	opts.Observe = func(p backup.Progress) {
		logObserve(p)
		mo.observe(p)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The stream's bytes are bounded by the budget; a soft limit just above it keeps the
		// garbage collector from letting the heap grow to twice that between collections.
		debug.SetMemoryLimit(opts.MemoryLimit())
	}
	cfg, err := f.connConfig(dsn, stdin, stderr, logw)
	if err != nil {
		return err
	}
	b, err := backup.Connect(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer b.Close()
	mo.server(b.Server, b.ServerCodec)
	out := &countingWriter{w: stdout} // hides stdout's *os.File, so the terminal is checked above
	var appendTo map[string][]byte    // -R's settings, written into the archive as it streams
	if f.recoveryConf && dest.Format != sinks.Plain {
		appendTo = recoveryAppend(cfg)
	}
	sink, err := dest.Open(ctx, b.Server, b.Tablespaces, sinks.OpenOptions{Bounds: opts.Tuning.SinkBounds(),
		Stdout: out, Append: appendTo, Warn: func(msg string) { fmt.Fprintf(logw, "pgpull: %s\n", msg) }})
	if err != nil {
		return err
	}
	if dest.Format == sinks.Stream && !sinks.IsS3(location) {
		warnStreamTablespaces(b.Tablespaces, stderr)
	}
	res, err := b.Run(ctx, sink)
	if err != nil {
		if _, serr := os.Stat(filepath.Join(location, sinks.IncompleteMarker)); f.refresh && serr == nil {
			fmt.Fprintf(stderr, "pgpull: %s cannot start until the refresh completes; run the same command again to resume\n", location)
		}
		return err
	}
	if f.recoveryConf && dest.Format == sinks.Plain {
		if err := writeRecoveryConf(location, cfg, b.Server.FileMode(), f.noSync); err != nil {
			return err
		}
	}
	return reportBackup(res, &dest, out.n, opts, mo, stderr)
}

// connConfig reads the DSN, asks for the password when -W says so, and shows SQL with -d.
func (f backupFlags) connConfig(dsn string, stdin *os.File, stderr, logw io.Writer) (*pgx.ConnConfig, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if f.askPassword {
		if cfg.Password, err = askPassword(stdin, stderr, cfg.User); err != nil {
			return nil, err
		}
	}
	showSQL(cfg, f.debug, logw)
	return cfg, nil
}

// warnStreamTablespaces says how a tar stream carries tablespaces kept outside the data directory.
func warnStreamTablespaces(spaces []session.Tablespace, stderr io.Writer) {
	for _, t := range spaces {
		if !t.InPlace() {
			fmt.Fprintf(stderr, "pgpull: tablespace %s (%s) travels as directory pg_tblspc/%s/ in the stream; "+
				"after extracting, move it out and put a symlink in its place before the first start\n", t.OID, t.Location, t.OID)
		}
	}
}

// reportBackup hands a finished run to the summary and the log, and fails it when pages were
// found corrupt: the backup is whole, but the user must know.
func reportBackup(res backup.Result, dest *sinks.Destination, streamed int64, opts backup.Options, mo *machineOutput, stderr io.Writer) error {
	outputBytes := streamed
	sent, peak, total := dest.Uploaded()
	switch {
	case sinks.IsS3(dest.Location):
		outputBytes = sent
	case dest.Format != sinks.Stream:
		outputBytes, _ = treeSize(dest.Location)
	}
	mo.result(res, outputBytes)
	if opts.Refresh {
		mo.refresh(res, res.Removed)
	}
	opts.Log("backup complete: %s, WAL %s to %s, %.1fs; %s from the first byte copied", amount(res.Files, res.Bytes, res.WALSegments),
		res.Start, res.Stop, res.Duration.Seconds(), rate(res.Bytes+res.WALBytes, res.Copying))
	if sinks.IsS3(dest.Location) {
		opts.Log("S3 part buffers: peak %d of %d bytes (the pipeline's budget %d)", peak, total, opts.InFlightBytes())
	}
	if opts.Refresh {
		opts.Log("refresh: %s compared with the copy, %s moved from the server, %d files removed",
			humanSize(res.Compared), humanSize(res.Received), res.Removed)
	}
	return pageFailures(res.PageFailures, stderr)
}

// pageFailures lists the first corrupt pages found, and makes them the command's failure.
func pageFailures(failures []pgformat.PageFailure, stderr io.Writer) error {
	n := len(failures)
	if n == 0 {
		return nil
	}
	for i, pf := range failures {
		if i == 20 {
			fmt.Fprintf(stderr, "pgpull: ... and %d more\n", n-20)
			break
		}
		fmt.Fprintf(stderr, "pgpull: checksum verification failed in file %q, block %d: calculated %X but expected %X\n",
			pf.Path, pf.Block, pf.Computed, pf.Stored)
	}
	what := "page checksum verification failures"
	if n == 1 {
		what = "page checksum verification failure"
	}
	return exitError{1, fmt.Errorf("%d %s; the backup is complete, but the cluster holds corrupt pages", n, what)}
}

// options turns flags into the backup's options and checks them.
func (f backupFlags) options(rawStderr, stderr io.Writer) (backup.Options, compress.Spec, error) {
	opts := backup.Options{Tuning: backup.DefaultTuning(), Label: f.label, WALInterval: f.walInterval, IOTimeout: f.ioTimeout, Manifest: !f.noManifest, VerifyPages: !f.noVerifyPages, CheckWAL: !f.noCheckWAL}
	opts.ServerCompress = f.serverCompress
	opts.RequireSlot = f.requireSlot
	if err := f.checkWALMethod(); err != nil {
		return opts, compress.Spec{}, err
	}
	if f.jobs.auto {
		opts.Jobs, opts.AutoJobs = opts.Tuning.AutoJobs.Max, true
	} else if opts.Jobs = f.jobs.n; opts.Jobs < 1 {
		return opts, compress.Spec{}, fmt.Errorf("-j/--jobs must be at least 1 (or auto), got %d", opts.Jobs)
	}
	switch f.checkpoint {
	case "fast":
		opts.Fast = true
	case "spread":
	default:
		return opts, compress.Spec{}, fmt.Errorf("invalid checkpoint %q: use -c fast or -c spread", f.checkpoint)
	}
	var err error
	if opts.RangeSize, err = parseSize(f.rangeSize, 1); err != nil {
		return opts, compress.Spec{}, fmt.Errorf("--range-size: %w", err)
	}
	if opts.RangeSize < 64<<10 || opts.RangeSize > 1<<30 {
		return opts, compress.Spec{}, fmt.Errorf("--range-size %s is out of range: use 64kB to 1GB", f.rangeSize)
	}
	if f.maxRate != "" {
		if opts.MaxRate, err = parseSize(f.maxRate, 1024); err != nil {
			return opts, compress.Spec{}, fmt.Errorf("--max-rate: %w", err)
		}
		if opts.MaxRate < 32<<10 {
			return opts, compress.Spec{}, fmt.Errorf("--max-rate %s is too low: use at least 32kB", f.maxRate)
		}
	}
	if f.ioTimeout <= 0 {
		return opts, compress.Spec{}, fmt.Errorf("--io-timeout must be positive, got %s", f.ioTimeout)
	}
	if f.walInterval <= 0 {
		return opts, compress.Spec{}, fmt.Errorf("--wal-interval must be positive, got %s", f.walInterval)
	}
	if opts.Checksums, err = manifest.ParseAlgorithm(f.manifestSums); err != nil {
		return opts, compress.Spec{}, err
	}
	spec, err := compress.ParseSpec(f.compress)
	if err != nil {
		return opts, spec, err
	}
	opts.Log = func(string, ...any) {}
	if f.verbose {
		opts.Log = func(format string, args ...any) { fmt.Fprintf(stderr, "pgpull: "+format+"\n", args...) }
	}
	plog := &progressLog{w: stderr, verbose: f.verbose, spread: !opts.Fast}
	opts.Observe = plog.observe
	if f.progress {
		display := newProgressDisplay(stderr, rawStderr)
		opts.Observe = func(p backup.Progress) {
			plog.observe(p)
			display.observe(p)
		}
	}
	opts.WALRisk = func(noSlot string, r session.WALRisk) {
		if warning := walRiskWarning(noSlot, r, f.maxRate != ""); warning != "" {
			fmt.Fprintf(stderr, "pgpull: %s\n", warning)
		}
	}
	return opts, spec, nil
}

// isTerminal tells a terminal from other character devices such as /dev/null.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
