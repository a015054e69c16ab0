package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// runSettings are the run command's flags, as given.
type runSettings struct {
	dsn, pgdata   string
	dataset       string
	jobs          string
	rangeSizes    string
	walChecks     string
	compress      string
	tools         string
	pgbackrestJob string
	runs          int
	latency       time.Duration
	bandwidth     string
	out           string
	results       string
	runTimeout    time.Duration
	section       string
	noisy         bool
}

func runCommand(stdout, stderr io.Writer) *ffcli.Command {
	var s runSettings
	cmd := newSubcommand("run", "time pgpull against pg_basebackup, pgBackRest and tar -c",
		stderr, func(ctx context.Context) error { return runBench(ctx, s, stdout, stderr) })
	fs := cmd.FlagSet
	fs.StringVar(&s.dsn, "dsn", "", "back up this existing cluster instead of a scratch one (its data set is left as is)")
	fs.StringVar(&s.pgdata, "pgdata", "", "with --dsn: the cluster's local data directory, for pgBackRest and the tar ceiling")
	fs.BoolVar(&s.noisy, "noisy", false, noisyHelp)
	fs.StringVar(&s.dataset, "dataset", "mixed:256MB", "scratch data set: pgbench:SCALE, mixed:SIZE, incompressible:SIZE, or empty (initdb's 22 MB: the tools' fixed costs)")
	fs.StringVar(&s.jobs, "jobs", "1,2,4,8", "pgpull -j values; auto for -j auto, default for no -j (pgpull's default)")
	fs.StringVar(&s.rangeSizes, "range-sizes", "8MB", "pgpull --range-size values")
	fs.StringVar(&s.walChecks, "wal-check", "on", "pgpull's WAL check: on, off (--no-check-wal), or on,off to measure its cost")
	fs.StringVar(&s.compress, "compress", "none,gzip:1,zstd:1", "compressions, each run by every tool: none, gzip:N, zstd:N; "+
		"on the server: server (pgpull --server-compress, helper installed), server=zstd|lz4|zlib (--server-compress=CODEC), server-auto (--server-compress=auto), server-gzip:N, server-lz4:N, server-zstd:N (pg_basebackup)")
	fs.StringVar(&s.tools, "tools", "pgpull,pg_basebackup,pgbackrest,tar", "tools to run; missing ones are skipped with a note; "+
		"pgpull-libzstd is pgpull built with -tags libzstd (needs a C compiler), run for the zstd compressions")
	fs.StringVar(&s.pgbackrestJob, "pgbackrest-jobs", "", "pgBackRest process-max values (default: --jobs)")
	fs.IntVar(&s.runs, "runs", 3, "runs of every config, interleaved; medians are reported")
	fs.DurationVar(&s.latency, "latency", 0, "delay added each way between clients and server, e.g. 20ms")
	fs.StringVar(&s.bandwidth, "bandwidth", "", "cap on each client connection's throughput each way, e.g. 200Mbit")
	fs.StringVar(&s.out, "out", "", "directory for CSV, JSON and PNG output (default: bench/out in the module)")
	fs.StringVar(&s.results, "results", "", "regenerate this scenario's section of a results file, e.g. bench/RESULTS.md")
	fs.DurationVar(&s.runTimeout, "run-timeout", 30*time.Minute, "limit on one run of one tool")
	fs.StringVar(&s.section, "section", "", "with --results: add this to the section's name (default: the scenario alone), so runs of one link on other data or tools keep sections of their own")
	return cmd
}

// benchPlan is the validated form of runSettings.
type benchPlan struct {
	dataset   datasetSpec
	matrix    matrixSpec
	runs      int
	latency   time.Duration
	bandwidth int64
	notes     []string // skipped tools and why, for the report
}

func (s runSettings) plan() (benchPlan, error) {
	var p benchPlan
	var err error
	if s.dsn == "" {
		if p.dataset, err = parseDataset(s.dataset); err != nil {
			return p, err
		}
	}
	if p.matrix.jobs, err = parseJobsList(s.jobs); err != nil {
		return p, fmt.Errorf("--jobs %w", err)
	}
	p.matrix.pgbackrestJobs = p.matrix.jobs
	if s.pgbackrestJob != "" {
		if p.matrix.pgbackrestJobs, err = parseIntList(s.pgbackrestJob); err != nil {
			return p, fmt.Errorf("--pgbackrest-jobs %w", err)
		}
	}
	for _, r := range splitList(s.rangeSizes) {
		if _, err := parseByteSize(r); err != nil {
			return p, fmt.Errorf("--range-sizes: %w", err)
		}
		p.matrix.rangeSizes = append(p.matrix.rangeSizes, r)
	}
	for _, w := range splitList(s.walChecks) {
		switch w {
		case "on", "off":
			p.matrix.walChecks = append(p.matrix.walChecks, w == "on")
		default:
			return p, fmt.Errorf("--wal-check: %q is neither on nor off", w)
		}
	}
	for _, c := range splitList(s.compress) {
		comp, err := parseCompression(c)
		if err != nil {
			return p, err
		}
		p.matrix.comps = append(p.matrix.comps, comp)
	}
	if len(p.matrix.jobs) == 0 || len(p.matrix.rangeSizes) == 0 || len(p.matrix.comps) == 0 || len(p.matrix.walChecks) == 0 {
		return p, errors.New("--jobs, --range-sizes, --wal-check and --compress need at least one value each")
	}
	if s.runs < 1 {
		return p, errors.New("--runs must be at least 1")
	}
	p.runs, p.latency = s.runs, s.latency
	if p.bandwidth, err = parseBandwidth(s.bandwidth); err != nil {
		return p, err
	}
	for _, t := range splitList(s.tools) {
		switch t {
		case toolPgpull:
			p.matrix.pgpull = true
		case toolPgpullLibzstd:
			p.matrix.pgpullLibzstd = true
		case toolBasebackup:
			p.matrix.basebackup = true
		case toolPgbackrest:
			p.matrix.pgbackrest = true
		case toolTar:
			p.matrix.tar = true
		default:
			return p, fmt.Errorf("--tools: unknown tool %q", t)
		}
	}
	if !p.matrix.pgpull && !p.matrix.pgpullLibzstd {
		p.matrix.jobs = nil
	}
	shaped := p.latency > 0 || p.bandwidth > 0
	if shaped && (p.matrix.pgbackrest || p.matrix.tar) {
		p.matrix.pgbackrest, p.matrix.tar = false, false
		p.notes = append(p.notes, "pgBackRest and tar -c skipped: they read the data directory on the host, so a network between client and server does not apply to them")
	}
	if p.matrix.pgbackrest {
		if _, err := exec.LookPath("pgbackrest"); err != nil {
			p.matrix.pgbackrest = false
			p.notes = append(p.notes, "pgBackRest skipped: not installed (apt-get install -y pgbackrest)")
		}
	}
	if s.dsn != "" && s.pgdata == "" && (p.matrix.pgbackrest || p.matrix.tar) {
		p.matrix.pgbackrest, p.matrix.tar = false, false
		p.notes = append(p.notes, "pgBackRest and tar -c skipped: --dsn without --pgdata")
	}
	return p, nil
}

func (p benchPlan) scenario() string {
	if p.latency == 0 && p.bandwidth == 0 {
		return "local"
	}
	var parts []string
	if p.latency > 0 {
		parts = append(parts, "latency "+p.latency.String()+" each way")
	}
	if p.bandwidth > 0 {
		parts = append(parts, fmt.Sprintf("bandwidth %gMbit per connection", float64(p.bandwidth)/1e6))
	}
	return strings.Join(parts, ", ")
}

// shellJoin joins args as a shell would need them typed, so the command a report shows can be
// run again as it stands: an argument with a space or a shell character goes in single quotes.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]{}~#!") {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}

// sectionName names rep's section of the results file: its scenario, and --section when given.
func (rep benchReport) sectionName() string {
	if rep.Section == "" {
		return rep.Scenario
	}
	return rep.Scenario + ", " + rep.Section
}

// benchReport is everything one run command measured, for every output.
type benchReport struct {
	Scenario  string    `json:"scenario"`
	Section   string    `json:"section,omitempty"` // --section, added to the results section's name
	Machine   machine   `json:"machine"`
	Dataset   string    `json:"dataset"`
	Server    string    `json:"server"` // version() of the server backed up, and where its binaries came from
	DataBytes int64     `json:"data_bytes"`
	Command   string    `json:"command"`
	Commands  []string  `json:"tool_commands"`
	Notes     []string  `json:"notes"`
	Started   time.Time `json:"started"`
	Elapsed   float64   `json:"elapsed_s"`
	Summaries []summary `json:"summaries"`
	Samples   []sample  `json:"samples"`
}

func runBench(ctx context.Context, s runSettings, stdout, stderr io.Writer) (err error) {
	p, err := s.plan()
	if err != nil {
		return err
	}
	quiet, err := checkQuiet(s.noisy)
	if err != nil {
		return err
	}
	p.notes = append(p.notes, "before the run: "+quiet.String())
	rep := benchReport{Scenario: p.scenario(), Section: s.section, Machine: describeMachine(), Started: time.Now(), Notes: p.notes,
		Command: "go run ./bench run " + shellJoin(os.Args[2:])}
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "[%6.1fs] %s\n", time.Since(rep.Started).Seconds(), fmt.Sprintf(format, args...))
	}
	work, err := newWorkDir()
	if err != nil {
		return err
	}
	defer func() {
		if cerr := work.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	bins, err := testcluster.FindBinaries()
	if err != nil {
		return err
	}
	t, err := prepareTarget(ctx, s, p, work, bins, &rep, logf)
	if err != nil {
		return err
	}
	if rep.DataBytes, err = databaseBytes(ctx, t.dsn); err != nil {
		return err
	}
	logf("data set ready: %.0f MB in databases", float64(rep.DataBytes)/1e6)
	serverMajor, err := describeServer(ctx, t.dsn, s.dsn == "", bins, &rep)
	if err != nil {
		return err
	}
	logf("server: %s", rep.Server)
	clientMajor, err := bins.ClientMajor()
	if err != nil {
		return err
	}
	if p.matrix.basebackup && serverMajor > clientMajor {
		p.matrix.basebackup = false
		rep.Notes = append(rep.Notes, fmt.Sprintf("pg_basebackup skipped: the one installed (%d) refuses a newer server (%d)", clientMajor, serverMajor))
	}

	if p.latency > 0 || p.bandwidth > 0 {
		shaper, err := t.shapeLink(p, logf)
		if err != nil {
			return err
		}
		defer shaper.Close()
	}

	configs := p.matrix.configs()
	rep.Commands = toolCommands(configs, t)
	trials := interleave(len(configs), p.runs)
	byConfig := make([][]sample, len(configs))
	for i, tr := range trials {
		if err := ctx.Err(); err != nil {
			return err
		}
		cfg := configs[tr.config]
		runCtx, cancel := context.WithTimeout(ctx, s.runTimeout)
		smp := t.runConfig(runCtx, cfg, tr.run)
		cancel()
		byConfig[tr.config] = append(byConfig[tr.config], smp)
		rep.Samples = append(rep.Samples, smp)
		status := fmt.Sprintf("%.2fs, %.0f MB/s, cpu %.1fs, out %.0f MB, rss %.0f MiB", smp.WallSec,
			float64(rep.DataBytes)/1e6/smp.WallSec, smp.CPUSec(), float64(smp.BytesOut)/1e6, float64(smp.PeakRSSKiB)/1024)
		if smp.Error != "" {
			status = "FAILED: " + smp.Error
		}
		logf("[%d/%d] %s (run %d): %s", i+1, len(trials), cfg.name(), tr.run, status)
	}
	for i, cfg := range configs {
		rep.Summaries = append(rep.Summaries, summarize(cfg, byConfig[i], rep.DataBytes))
	}
	addBaselineRatios(rep.Summaries)
	rep.Elapsed = time.Since(rep.Started).Seconds()
	return writeOutputs(rep, p, s, stdout, logf)
}

// describeServer records which PostgreSQL the run backs up: version(), and for a scratch
// cluster the binaries' directory when PGPULL_PG_BIN chose them. It returns the major version.
func describeServer(ctx context.Context, dsn string, scratch bool, bins testcluster.Binaries, rep *benchReport) (int, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var version string
	var num int
	if err := conn.QueryRow(ctx, `SELECT version(), current_setting('server_version_num')::int`).Scan(&version, &num); err != nil {
		return 0, err
	}
	if i := strings.Index(version, " on "); i > 0 {
		version = version[:i] // the build platform and compiler say nothing about the run
	}
	rep.Server = version
	if scratch && os.Getenv(testcluster.BinEnv) != "" {
		rep.Server += fmt.Sprintf(" (scratch cluster from %s=%s)", testcluster.BinEnv, bins.Server)
	}
	return num / 10000, nil
}

// databaseBytes is the size of all databases: the common numerator of every
// MB/s figure, so compressed and uncompressed runs compare by time.
func databaseBytes(ctx context.Context, dsn string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int64
	err = conn.QueryRow(ctx, `SELECT sum(pg_database_size(oid))::bigint FROM pg_database`).Scan(&n)
	return n, err
}

// toolCommands shows one command line per tool and compression as run, with
// paths shortened, for the report.
func toolCommands(configs []config, t *target) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range configs {
		var line string
		switch c.tool {
		case toolPgpull, toolPgpullLibzstd:
			line = fmt.Sprintf("pgpull backup -j J -c fast --range-size %s %s DSN - | count", c.rangeSize, strings.Join(c.pgpullArgs(), " "))
			if c.tool == toolPgpullLibzstd {
				line += "  (pgpull built with go build -tags libzstd)"
			}
		case toolBasebackup:
			line = strings.Join(append([]string{"pg_basebackup -d DSN -D - -Ft -X fetch -c fast"}, c.comp.basebackupArgs()...), " ") + " | count"
		case toolPgbackrest:
			line = "pgbackrest --stanza=bench --process-max=P " + strings.Join(c.comp.pgbackrestArgs(), " ") +
				" backup --type=full  (fresh repo, start-fast=y, archive-check=n, as the data directory's owner)"
		case toolTar:
			line = "tar -c -f - --exclude=./pg_wal/* -C PGDATA . | count"
		}
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return out
}

// outDir resolves --out, defaulting to bench/out in the module.
func outDir(s runSettings) (string, error) {
	if s.out != "" {
		return s.out, nil
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "bench", "out"), nil
}
