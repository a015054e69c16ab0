package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// incrementalSettings are the incremental command's flags.
type incrementalSettings struct {
	changed float64
	scenarioFlags
}

func incrementalCommand(stdout, stderr io.Writer) *ffcli.Command {
	var s incrementalSettings
	cmd := newSubcommand("incremental", "time a full backup, --refresh and --incremental-from side by side (and pg_basebackup --incremental on 17+), locally and over a shaped link",
		stderr, func(ctx context.Context) error { return runIncrementalBench(ctx, s, stdout, stderr) })
	s.register(cmd.FlagSet, scenarioFlagSpec{section: "incremental", scale: 100, scaleSize: "1.5 GB", jobs: "pgpull -j",
		rounds: "interleaved rounds; the table gives each run's median", link: true, noisy: true})
	cmd.FlagSet.Float64Var(&s.changed, "changed", 1, "percent of pgbench_accounts updated between the baseline and the runs, as one key range")
	return cmd
}

// incrementalBench is one run of the scenario: the server, the links, and what each kind of
// backup starts from.
type incrementalBench struct {
	s        incrementalSettings
	w        *workDir
	bin      string
	src      *testcluster.Cluster
	counter  *countingProxy
	baseline string // pgpull's full backup before the changes
	pg17     string // PostgreSQL 17's client programs, "" when the server is older or they are missing
	quiet    quietness
	runs     map[string][]refreshRun
	order    []string
	stderr   io.Writer
}

func runIncrementalBench(ctx context.Context, s incrementalSettings, stdout, stderr io.Writer) (err error) {
	sc, err := startScenario(ctx, s.scenarioFlags)
	if err != nil {
		return err
	}
	defer sc.closeInto(&err)
	b := &incrementalBench{s: s, w: sc.w, bin: sc.bin, quiet: sc.quiet, runs: map[string][]refreshRun{}, stderr: stderr}
	opts := testcluster.Options{Checksums: true}
	if bins, err := testcluster.FindBinaries(); err == nil && bins.Major >= 17 {
		opts.Conf = []string{"summarize_wal = on"}
	}
	if b.src, err = sc.w.startPgbench(ctx, opts, s.scale, stderr); err != nil {
		return err
	}
	links, err := sc.connect(b.src)
	if err != nil {
		return err
	}
	b.counter = sc.counter
	if b.src.Major >= 17 {
		if b.pg17, err = testcluster.PG17ClientBin(); err != nil {
			fmt.Fprintf(stderr, "bench: pg_basebackup --incremental left out: %v\n", err)
		}
	}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	for round := 1; round <= s.rounds; round++ {
		for _, l := range links {
			fmt.Fprintf(stderr, "bench: round %d of %d, %s link\n", round, s.rounds, l.name)
			if err := b.round(ctx, l.name, l.addr); err != nil {
				return err
			}
		}
	}
	report, err := b.report(ctx, sc.began)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, report)
	if s.results != "" {
		// One section per major: PostgreSQL 17 adds pg_basebackup --incremental and WAL summaries,
		// so its figures do not replace those of an older server.
		return replaceSection(s.results, fmt.Sprintf("incremental, PostgreSQL %d", b.src.Major), report)
	}
	return nil
}

// prepare takes the baseline, then changes a key range of pgbench_accounts and checkpoints, so
// that every run starts from the same prior and finds the same changes.
func (b *incrementalBench) prepare(ctx context.Context) error {
	b.baseline = b.w.join("baseline")
	if _, err := b.pgpull(ctx, "backup", "-c", "fast", "-j", strconv.Itoa(b.s.jobs), linkDSN(b.counter.addr), b.baseline); err != nil {
		return err
	}
	rows := int64(float64(b.s.scale) * 100000 * b.s.changed / 100)
	fmt.Fprintf(b.stderr, "bench: updating %d accounts (%.1f%%)\n", rows, b.s.changed)
	if err := b.src.Exec(ctx, `UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= $1`, rows); err != nil {
		return err
	}
	return b.src.Exec(ctx, "CHECKPOINT")
}

// round runs each kind of backup once through the link at addr.
func (b *incrementalBench) round(ctx context.Context, link, addr string) error {
	jobs := strconv.Itoa(b.s.jobs)
	full, inc, copyDir := b.w.join("full"), b.w.join("inc"), b.w.join("copy")
	for _, dir := range []string{full, inc, copyDir} {
		os.RemoveAll(dir)
	}
	// The refresh updates a copy of the baseline in place; copying it is not measured.
	if out, err := exec.CommandContext(ctx, "cp", "-a", b.baseline, copyDir).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -a: %v: %s", err, out)
	}
	kinds := []struct {
		kind string
		args []string
	}{
		{"full backup", []string{"backup", "-c", "fast", "-j", jobs, linkDSN(addr), full}},
		{"refresh", []string{"backup", "--refresh", "-c", "fast", "-j", jobs, linkDSN(addr), copyDir}},
		{"incremental", []string{"backup", "--incremental-from", b.baseline, "-c", "fast", "-j", jobs, linkDSN(addr), inc}},
	}
	for _, k := range kinds {
		r, err := b.pgpull(ctx, k.args...)
		if err != nil {
			return err
		}
		b.add(link, "pgpull "+k.kind, r)
	}
	if b.pg17 == "" {
		return nil
	}
	theirs := b.w.join("pgbb-inc")
	os.RemoveAll(theirs)
	cmd := exec.CommandContext(ctx, filepath.Join(b.pg17, "pg_basebackup"), "-d", linkDSN(addr), "-D", theirs, "-c", "fast",
		"-X", "fetch", "--incremental", filepath.Join(b.baseline, "backup_manifest"))
	r, err := b.measure(ctx, cmd)
	if err != nil {
		return fmt.Errorf("pg_basebackup --incremental: %w", err)
	}
	b.add(link, "pg_basebackup 17 --incremental", r)
	return nil
}

func (b *incrementalBench) add(link, kind string, r refreshRun) {
	key := link + "\x00" + kind
	if _, ok := b.runs[key]; !ok {
		b.order = append(b.order, key)
	}
	r.link, r.kind = link, kind
	b.runs[key] = append(b.runs[key], r)
}

func (b *incrementalBench) pgpull(ctx context.Context, args ...string) (refreshRun, error) {
	r, err := b.measure(ctx, exec.CommandContext(ctx, b.bin, args...))
	if err != nil {
		return r, fmt.Errorf("pgpull %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

// measure runs cmd and counts its wall time, CPU, the bytes the server sent and the server's CPU.
func (b *incrementalBench) measure(ctx context.Context, cmd *exec.Cmd) (refreshRun, error) {
	before, server0 := b.counter.n.Load(), serverCPU(b.src)
	u, err := runChild(ctx, cmd)
	if err != nil {
		return refreshRun{}, err
	}
	return refreshRun{wall: u.wall, wire: b.counter.n.Load() - before, clientCPU: (u.user + u.sys).Seconds(),
		serverCPU: serverCPU(b.src) - server0}, nil
}

// medianRun is the run of median wall time.
func medianRun(runs []refreshRun) refreshRun {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b refreshRun) int { return int(a.wall - b.wall) })
	return sorted[len(sorted)/2]
}

func (b *incrementalBench) report(ctx context.Context, began time.Time) (string, error) {
	size, err := databaseBytes(ctx, b.src.TCPDSN())
	if err != nil {
		return "", err
	}
	m := describeMachine()
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Scenario: incremental\n\n")
	fmt.Fprintf(&sb, "- measured: %s UTC, took %.0f s; PostgreSQL %d\n", began.UTC().Format("2006-01-02 15:04"), time.Since(began).Seconds(), b.src.Major)
	fmt.Fprintf(&sb, "- machine: %d CPUs (%s); before the run: %s\n", m.CPUs, m.CPUModel, b.quiet)
	fmt.Fprintf(&sb, "- data set: pgbench scale %d, %d MB in databases; data checksums on; summarize_wal on from 17; between the baseline and the runs, %.1f%% of pgbench_accounts updated as one key range, and a checkpoint\n",
		b.s.scale, size/1e6, b.s.changed)
	fmt.Fprintf(&sb, "- command: `go run ./bench incremental --scale %d --changed %g --jobs %d --rounds %d --latency %s --bandwidth %s`\n",
		b.s.scale, b.s.changed, b.s.jobs, b.s.rounds, b.s.latency, b.s.bandwidth)
	fmt.Fprintf(&sb, "- runs, interleaved in each round: a full backup into an empty directory; `--refresh` of a copy of the baseline; `--incremental-from` the baseline")
	if b.pg17 != "" {
		fmt.Fprintf(&sb, "; pg_basebackup 17 `--incremental` on the baseline's manifest (-X fetch)")
	}
	fmt.Fprintf(&sb, ". Medians of %d rounds by wall time; bytes counted by a proxy in front of the server; server CPU is the user+system time of the backends that ended\n\n", b.s.rounds)
	fmt.Fprintln(&sb, "| link | run | wall s | vs full | MB server→client | share of full | pgpull CPU s | server CPU s |")
	fmt.Fprintln(&sb, "|---|---|---|---|---|---|---|---|")
	for _, key := range b.order {
		r := medianRun(b.runs[key])
		full := medianRun(b.runs[r.link+"\x00pgpull full backup"])
		fmt.Fprintf(&sb, "| %s | %s | %.2f | %.1fx | %.1f | %.1f%% | %.1f | %.1f |\n", r.link, r.kind, r.wall.Seconds(),
			full.wall.Seconds()/r.wall.Seconds(), float64(r.wire)/1e6, 100*float64(r.wire)/float64(full.wire), r.clientCPU, r.serverCPU)
	}
	return sb.String(), nil
}
