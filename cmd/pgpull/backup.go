package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
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

// backupFlags are the backup command's settings, as parsed.
type backupFlags struct {
	jobs          jobsFlag
	jobsGiven     bool // -j or PGPULL_JOBS set; else the default depends on where the server is
	checkpoint    string
	label         string
	force         bool
	rangeSize     string
	mapping       tablespaceMapping
	noSync        bool
	verbose       bool
	showSQL       bool
	walInterval   time.Duration
	ioTimeout     time.Duration
	maxRate       string
	format        string
	compress      string // -Z, or gzip from -z
	manifestSums  string
	noManifest    bool
	noVerifyPages bool
	noCheckWAL    bool
	noEstimate    bool // pg_basebackup's --no-estimate-size: pgpull lists the files before it copies anyway
	pgdata        string
	recoveryConf  bool
	walMethod     string
	summary       string
	progress      bool
	requireSlot   bool
	events        string

	serverCompress  serverCompressValue // read through pgpull's helper function, which compresses on the server
	refresh         bool
	incrementalFrom string // the prior backup of an incremental one
	cpuProfile      string // hidden: where to write a CPU profile of the run (bench/README.md, PGO)

	conn connFlags
	slot slotFlags
	s3   s3Flags
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
	fs.VarP(&f.jobs, "jobs", "j", "`N` parallel fetch connections, or auto: from 2 up while the throughput rises; "+
		"for a server on this machine the default is its CPUs, 2 to 4, and for one 10 ms or more away 8")
	fs.StringVarP(&f.checkpoint, "checkpoint", "c", "spread", "checkpoint at start: `fast|spread`")
	fs.StringVarP(&f.label, "label", "l", "pgpull base backup", "backup `LABEL`")
	fs.StringVarP(&f.format, "format", "F", "", "output `FORMAT` for a directory DEST: plain (p) or tar (t); -Ft, -Fp as pg_basebackup")
	fs.StringVarP(&f.compress, "compress", "Z", "none", "compress tar output with `METHOD`[:LEVEL]: none, gzip, zstd; a client- prefix changes nothing, server- adds --server-compress; a bare LEVEL is gzip's")
	fs.VarPF(gzipValue{&f.compress}, "gzip", "z", "compress tar output with gzip, as -Z gzip").NoOptDefVal = "true"
	fs.StringVarP(&f.pgdata, "pgdata", "D", "", "`DEST`, as pg_basebackup -D; then DSN is the only argument, if any")
	fs.BoolVarP(&f.force, "force", "f", false, "replace an earlier backup in the destination directory")
	fs.BoolVar(&f.refresh, "refresh", false, "bring the earlier or unfinished plain backup in DEST up to date, moving only the blocks that differ")
	fs.StringVar(&f.incrementalFrom, "incremental-from", "", "take an incremental backup on the prior one at `PRIOR`: its directory, its backup_manifest, or its s3:// prefix (-F tar)")
	fs.StringVar(&f.rangeSize, "range-size", "8MB", "`SIZE` fetched per request")
	fs.VarP(f.mapping, "tablespace-mapping", "T", "relocate the tablespace in `OLDDIR=NEWDIR` (plain format)")
	fs.BoolVarP(&f.noSync, "no-sync", "N", false, "do not fsync what was written")
	fs.StringVarP(&f.maxRate, "max-rate", "r", "", "cap on the transfer `RATE` of all jobs together, at least 32k: 150M or 64k (kB/s when bare)")
	fs.DurationVar(&f.walInterval, "wal-interval", 2*time.Second, "how often the WAL scanner looks at pg_wal")
	fs.DurationVar(&f.ioTimeout, "io-timeout", defaultIOTimeout, "how long the server may be silent while pgpull waits on it: a fetch connection then reconnects, the control session ends the backup")
	fs.StringVar(&f.manifestSums, "manifest-checksums", "CRC32C", "file checksum `ALGORITHM` in backup_manifest: CRC32C, SHA224, SHA256, SHA384, SHA512 or NONE")
	fs.BoolVar(&f.noManifest, "no-manifest", false, "write no backup_manifest")
	fs.BoolVar(&f.noVerifyPages, "no-verify-checksums", false, "do not verify data page checksums")
	fs.VarPF(&f.serverCompress, "server-compress", "", "compress on the server with pgpull's helper function (see pgpull grants --server-compress), with the fastest codec the server has; "+
		"=auto: only where a probe of the link and a sample of the data at the start says it pays, with the codec it finds best (-v says why); =zstd, =lz4 or =zlib: with that codec").NoOptDefVal = "true"
	fs.BoolVar(&f.noCheckWAL, "no-check-wal", false, "do not read the WAL's records as they are copied (they are, by default, up to the stop LSN)")
	fs.BoolVarP(&f.recoveryConf, "write-recovery-conf", "R", false, "make the copy a standby of the server: standby.signal and primary_conninfo (with -S, primary_slot_name)")
	f.slot.add(fs)
	fs.StringVarP(&f.walMethod, "wal-method", "X", "stream", "pg_basebackup's -X `METHOD`: stream and fetch both mean what pgpull always does, the WAL in the backup")
	fs.BoolVar(&f.requireSlot, "require-slot", false, "refuse to start unless a temporary replication slot will hold the WAL the backup needs")
	fs.BoolVarP(&f.progress, "progress", "P", false, "show progress on stderr: a bar on a terminal, a line every few seconds elsewhere")
	fs.BoolVar(&f.noEstimate, "no-estimate-size", false, "accepted for pg_basebackup's sake: pgpull lists the files, and knows the size, before it copies")
	fs.StringVar(&f.summary, "summary", "", "write a JSON summary of the run to `FILE` at the end (- for stderr); docs/events.md")
	fs.StringVar(&f.events, "events", "", "write JSON lines of the run's progress to `FD|FILE`, the summary last; docs/events.md")
	f.s3.add(fs)
	f.conn.add(fs)
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "report progress on stderr")
	fs.BoolVar(&f.showSQL, "show-sql", false, "show every SQL statement on stderr, each range read with its parameters")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the backup to `FILE`")
	_ = fs.MarkHidden("cpuprofile") // for the profile behind PGO (bench/README.md), not for users
	refuse(fs, basebackupRefusals()...)
	complete(fs, "jobs", "auto", "2", "4", "8", "16")
	complete(fs, "checkpoint", "fast", "spread")
	complete(fs, "format", "plain", "tar")
	complete(fs, "compress", "none", "gzip", "zstd", "zstd:1", "server-zstd:1", "server-lz4", "server-gzip")
	complete(fs, "server-compress", "auto", "zstd", "lz4", "zlib", "false")
	complete(fs, "wal-method", "stream", "fetch")
	complete(fs, "manifest-checksums", "CRC32C", "SHA224", "SHA256", "SHA384", "SHA512", "NONE")
	complete(fs, "pgdata", dirValue)
	complete(fs, "host", dirValue)
	complete(fs, "summary", fileValue)
	complete(fs, "events", fileValue)
	return &command{
		name:  "backup",
		usage: "backup [flags] [DSN] DEST   or   pgpull backup [flags] -D DEST [DSN]",
		short: "take a base backup; DEST is - for a tar stream on stdout, a directory, or s3://BUCKET/PREFIX",
		long: "DSN is a libpq connection string or URI; -d gives it as pg_basebackup takes it, -h, -p and -U\n" +
			"override its host, port and user, and PG* variables, ~/.pgpass and service files apply.\n" +
			"Flags may come before or after DSN and DEST. Exit status: 0 done, 1 failed, 2 a command line\n" +
			"pgpull cannot take (nothing was started), 130 interrupted.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			f.jobsGiven = fs.Changed("jobs")
			return runBackup(ctx, f, args, stdin, stdout, stderr)
		},
	}
}

// backupPlan is a backup as the command line asks for it, checked before any server is touched.
type backupPlan struct {
	cfg    *pgx.ConnConfig // without the password -W asks for
	dest   sinks.Destination
	opts   backup.Options
	choice compressChoice
}

// plan reads and checks everything the command line says; every error is a usage error.
func (f backupFlags) plan(args []string, stdout, rawStderr, logw io.Writer) (backupPlan, error) {
	var p backupPlan
	dsn, location, err := f.destination(args)
	if err != nil {
		return p, usageError(err)
	}
	if err := f.conn.check(dsn); err != nil {
		return p, usageError(err)
	}
	if p.cfg, err = f.conn.parse(dsn); err != nil {
		return p, err
	}
	if err := f.slot.check(); err != nil {
		return p, usageError(err)
	}
	if scheme := schemeOf(location); scheme != "" && scheme != "s3" {
		return p, usageError(unsupportedURL("DEST", location, scheme))
	}
	if p.opts, err = f.options(rawStderr, logw); err != nil {
		return p, usageError(err)
	}
	if !f.jobsGiven && onThisMachine(p.cfg.Host) {
		p.opts.Jobs = localJobs(runtime.NumCPU())
		p.opts.Log("-j %d: the server is on this machine, whose %d CPUs it shares with pgpull (-j N sets another count)",
			p.opts.Jobs, runtime.NumCPU())
	}
	if !f.jobsGiven && !strings.HasPrefix(p.cfg.Host, "/") {
		p.opts.FarJobs = farJobs // a TCP address, even a loopback one, may lead far away
	}
	if p.choice, err = parseCompress(f.compress); err != nil {
		return p, usageError(err)
	}
	p.opts.ServerCompress = f.serverCompress.on || p.choice.server
	p.opts.ServerCompressAuto = f.serverCompress.auto && !p.choice.server
	p.opts.ServerCodec = f.serverCompress.codec
	if p.choice.server {
		p.opts.ServerCodec = p.choice.serverCodec()
	}
	dflags := sinks.DestinationFlags{Format: f.format, Compress: p.choice.spec, Mapping: f.mapping, Force: f.force,
		NoSync: f.noSync, Refresh: f.refresh}
	if p.choice.server {
		dflags.Compress = compress.Spec{} // the format, once settled, says whether the output is compressed too
	}
	if p.dest, err = sinks.ParseDestination(location, dflags); err != nil {
		return p, usageError(err)
	}
	if f.incrementalFrom != "" && f.refresh {
		return p, usageError(fmt.Errorf("--incremental-from and --refresh exclude each other: --refresh updates a full copy in place, --incremental-from writes a new incremental backup"))
	}
	if p.choice.server && p.dest.Format != sinks.Plain {
		if p.choice.method == "lz4" {
			return p, usageError(fmt.Errorf("-Z %s: pgpull writes tar output with gzip or zstd: use -Z server-zstd, "+
				"or --server-compress for an uncompressed tar", p.choice.given))
		}
		p.dest.Compress = p.choice.spec // as pg_basebackup -Ft -Z server-METHOD writes base.tar.METHOD
	}
	if file, ok := stdout.(*os.File); ok && p.dest.Format == sinks.Stream && location == "-" && isTerminal(file) {
		return p, usageError(fmt.Errorf("refusing to write a tar stream to a terminal: redirect stdout, or give a directory as DEST"))
	}
	return p, nil
}

func runBackup(ctx context.Context, f backupFlags, args []string, stdin *os.File, stdout, stderr io.Writer) (err error) {
	logw := &lineWriter{w: stderr} // the stages log from many goroutines
	p, err := f.plan(args, stdout, stderr, logw)
	if err != nil {
		return err
	}
	opts, dest := p.opts, &p.dest
	if f.cpuProfile != "" {
		stopProfile, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if sinks.IsS3(dest.Location) {
		// Before the server: a missing bucket or refused credentials cost one line, nothing else.
		// The part buffers are a share of the in-flight bytes, not an addition to them.
		opts.SinkBytes = opts.SinkShare()
	}
	if err := dest.Reach(ctx, f.s3.config(), opts.SinkBytes); err != nil {
		return err
	}
	opts.TablespaceMap = dest.Format == sinks.TarDir
	opts.Refresh = f.refresh
	if f.refresh {
		opts.RefreshFrom = refreshPrior(ctx, dest.Location, opts.Log)
	}
	if f.incrementalFrom != "" {
		if opts.Incremental, err = readPrior(ctx, f.incrementalFrom, f.s3); err != nil {
			return err
		}
	}
	mo, err := openMachineOutput(f.summary, f.events, stderr, string(dest.Format), dest.Compress.String())
	if err != nil {
		return err
	}
	defer func() { mo.close(err, ctx.Err() != nil) }()
	logObserve := opts.Observe
	opts.Observe = func(pr backup.Progress) {
		logObserve(pr)
		mo.observe(pr)
	}
	cfg := p.cfg
	if err := f.conn.ask(cfg, stdin, stderr); err != nil {
		return err
	}
	showSQL(cfg, f.showSQL, logw)
	b, err := backup.Connect(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer b.Close()
	if os.Getenv("GOMEMLIMIT") == "" {
		// The stream's bytes are bounded by the budget; a soft limit just above it keeps the
		// garbage collector from letting the heap grow to twice that between collections.
		debug.SetMemoryLimit(b.MemoryLimit())
	}
	mo.server(b.Server, b.ServerCodec, b.ServerCompressWhy)
	if note := p.choice.honoured(b.ServerCodec, dest.Compress); note != "" {
		fmt.Fprintf(logw, "pgpull: %s\n", note)
	}
	slot, err := f.slot.prepare(ctx, cfg, opts.Log)
	if err != nil {
		return err
	}
	defer func() { slot.release(err) }()
	return copyBackup(ctx, f, b, opts, dest, cfg, stdout, stderr, logw, mo)
}

// copyBackup runs the backup b into dest, then writes -R's settings into a plain copy and reports.
func copyBackup(ctx context.Context, f backupFlags, b *backup.Backup, opts backup.Options, dest *sinks.Destination,
	cfg *pgx.ConnConfig, stdout, stderr, logw io.Writer, mo *machineOutput) error {
	if file, ok := stdout.(*os.File); ok && dest.Format == sinks.Stream && !sinks.IsS3(dest.Location) {
		growPipe(file, opts.Tuning.StreamBuffer)
	}
	out := &countingWriter{w: stdout} // hides stdout's *os.File, so the terminal is checked above
	var appendTo map[string][]byte    // -R's settings, written into the archive as it streams
	if f.recoveryConf && dest.Format != sinks.Plain {
		appendTo = recoveryAppend(cfg, f.slot.name)
	}
	sink, err := dest.Open(b.Server, b.Tablespaces, sinks.OpenOptions{Bounds: opts.Tuning.SinkBounds(),
		Stdout: out, Append: appendTo, Warn: func(msg string) { fmt.Fprintf(logw, "pgpull: %s\n", msg) }})
	if err != nil {
		return err
	}
	if dest.Format == sinks.Stream && !sinks.IsS3(dest.Location) {
		warnStreamTablespaces(b.Tablespaces, stderr)
	}
	res, err := b.Run(ctx, sink)
	if err != nil {
		if _, serr := os.Stat(filepath.Join(dest.Location, sinks.IncompleteMarker)); f.refresh && serr == nil {
			fmt.Fprintf(stderr, "pgpull: %s cannot start until the refresh completes; run the same command again to resume\n", dest.Location)
		}
		return err
	}
	if f.recoveryConf && dest.Format == sinks.Plain {
		if err := writeRecoveryConf(dest.Location, cfg, f.slot.name, b.Server.FileMode(), f.noSync); err != nil {
			return err
		}
	}
	return reportBackup(res, dest, out.n, opts, mo, stderr)
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
	if c := res.Changes; c.Method != "" {
		opts.Log("incremental: changed blocks from %s: %d of %d blocks sent, %d files whole, %d as INCREMENTAL files",
			c.Method, c.BlocksSent, c.BlocksExamined, c.FilesWhole, c.FilesIncremental)
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
func (f backupFlags) options(rawStderr, stderr io.Writer) (backup.Options, error) {
	opts := backup.Options{Tuning: backup.DefaultTuning(), Label: f.label, WALInterval: f.walInterval, IOTimeout: f.ioTimeout, Manifest: !f.noManifest, VerifyPages: !f.noVerifyPages, CheckWAL: !f.noCheckWAL}
	opts.RequireSlot = f.requireSlot
	if err := f.checkWALMethod(); err != nil {
		return opts, err
	}
	if f.jobs.auto {
		opts.Jobs, opts.AutoJobs = opts.Tuning.AutoJobs.Max, true
	} else if opts.Jobs = f.jobs.n; opts.Jobs < 1 {
		return opts, fmt.Errorf("-j/--jobs must be at least 1 (or auto), got %d", opts.Jobs)
	}
	switch strings.ToLower(f.checkpoint) {
	case "fast":
		opts.Fast = true
	case "spread":
	default:
		return opts, fmt.Errorf("invalid checkpoint %q: use -c fast or -c spread", f.checkpoint)
	}
	if err := f.sizes(&opts); err != nil {
		return opts, err
	}
	var err error
	if opts.Checksums, err = manifest.ParseAlgorithm(f.manifestSums); err != nil {
		return opts, err
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
	return opts, nil
}

// sizes checks --range-size, --max-rate and the two durations into opts.
func (f backupFlags) sizes(opts *backup.Options) error {
	var err error
	if opts.RangeSize, err = parseSize(f.rangeSize, 1); err != nil {
		return fmt.Errorf("--range-size: %w", err)
	}
	if opts.RangeSize < 64<<10 || opts.RangeSize > 1<<30 {
		return fmt.Errorf("--range-size %s is out of range: use 64kB to 1GB", f.rangeSize)
	}
	if f.maxRate != "" {
		if opts.MaxRate, err = parseSize(f.maxRate, 1024); err != nil {
			return fmt.Errorf("--max-rate: %w", err)
		}
		if opts.MaxRate < 32<<10 {
			return fmt.Errorf("--max-rate %s is too low: use at least 32kB", f.maxRate)
		}
	}
	if f.ioTimeout <= 0 {
		return fmt.Errorf("--io-timeout must be positive, got %s", f.ioTimeout)
	}
	if f.walInterval <= 0 {
		return fmt.Errorf("--wal-interval must be positive, got %s", f.walInterval)
	}
	return nil
}

// isTerminal tells a terminal from other character devices such as /dev/null.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
