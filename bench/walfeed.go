package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// walfeedSettings are the walfeed command's flags.
type walfeedSettings struct {
	rates    string
	step     time.Duration
	interval time.Duration
	message  int
	clients  int
	scenarioFlags
}

func walfeedCommand(stdout, stderr io.Writer) *ffcli.Command {
	var s walfeedSettings
	cmd := newSubcommand("walfeed", "the WAL rate pgpull wal keeps up with, locally and over a shaped link",
		stderr, func(ctx context.Context) error { return runWALFeedBench(ctx, s, stdout, stderr) })
	fs := cmd.FlagSet
	fs.StringVar(&s.rates, "rates", "4,8,16,32,64,128,max", "WAL rates to offer in turn, in MB/s; max is pgbench unthrottled")
	fs.DurationVar(&s.step, "step", 20*time.Second, "how long each rate is offered")
	fs.DurationVar(&s.interval, "interval", 2*time.Second, "the feed's --interval")
	fs.IntVar(&s.message, "message", 128<<10, "bytes of WAL each pgbench transaction writes (one logical message)")
	fs.IntVar(&s.clients, "clients", 4, "pgbench -c")
	s.register(fs, scenarioFlagSpec{section: "walfeed", link: true, noisy: true})
	return cmd
}

// walfeedSlot is the slot the measured feeds hold WAL with: a feed that falls behind loses
// nothing, so a step measures speed only.
const walfeedSlot = "pgpull_bench_walfeed"

// walBench is one run of the scenario: the server that writes WAL, the proxy that counts what the
// feed reads, and the measured steps.
type walBench struct {
	s       walfeedSettings
	w       *workDir
	bin     string
	src     *testcluster.Cluster
	conn    *pgx.Conn // samples the positions
	counter *countingProxy
	segSize int64
	script  string // pgbench's script: one logical message
	quiet   quietness
	steps   []walStep
	stderr  io.Writer
}

func runWALFeedBench(ctx context.Context, s walfeedSettings, stdout, stderr io.Writer) (err error) {
	rates, err := parseRates(s.rates)
	if err != nil {
		return err
	}
	sc, err := startScenario(ctx, s.scenarioFlags)
	if err != nil {
		return err
	}
	defer sc.closeInto(&err)
	b := &walBench{s: s, w: sc.w, bin: sc.bin, quiet: sc.quiet, stderr: stderr}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	defer b.conn.Close(context.WithoutCancel(ctx))
	links, err := sc.connect(b.src)
	if err != nil {
		return err
	}
	b.counter = sc.counter
	for i, l := range links {
		if err := b.link(ctx, l.name, l.addr, b.w.join(fmt.Sprint("wal", i)), rates); err != nil {
			return fmt.Errorf("%s link: %w", l.name, err)
		}
	}
	report := b.report(sc.began)
	fmt.Fprint(stdout, report)
	if s.results != "" {
		return replaceSection(s.results, "walfeed", report)
	}
	return nil
}

// prepare starts the server, with room for the WAL a slow feed holds back, and writes pgbench's
// script.
func (b *walBench) prepare(ctx context.Context) error {
	opts := testcluster.Options{Checksums: true, Conf: []string{"max_wal_size = '4GB'", "wal_keep_size = 0"}}
	var err error
	if b.src, err = b.w.startCluster(ctx, "src", opts); err != nil {
		return err
	}
	if b.conn, err = b.src.Connect(ctx); err != nil {
		return err
	}
	q := `SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'`
	if err := b.conn.QueryRow(ctx, q).Scan(&b.segSize); err != nil {
		return fmt.Errorf("reading wal_segment_size: %w", err)
	}
	// A logical message is WAL and nothing else: no table grows, no page is written, no
	// checkpoint has more to do, so the WAL rate is what pgbench's rate makes it.
	b.script = b.w.join("walfeed.sql")
	sql := "SELECT pg_logical_emit_message(false, 'pgpull-bench', repeat('x', :size));\n"
	return os.WriteFile(b.script, []byte(sql), 0o644)
}

// link offers each rate in turn to a feed reading through addr into dir, until one it does not
// keep up with, then stops the feed and drops its slot.
func (b *walBench) link(ctx context.Context, name, addr, dir string, rates []float64) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	feed, err := startWALFeed(ctx, b.bin, b.w.join("feed-"+filepath.Base(dir)+".log"),
		"--slot", walfeedSlot, "--interval", b.s.interval.String(), linkDSN(addr), dir)
	if err != nil {
		return err
	}
	defer feed.kill()
	if err := b.waitCaughtUp(ctx, feed); err != nil {
		return err
	}
	for _, rate := range rates {
		fmt.Fprintf(b.stderr, "bench: %s link, %s\n", name, rateName(rate))
		st, err := b.step(ctx, feed, dir, rate)
		if err != nil {
			return err
		}
		st.link = name
		b.steps = append(b.steps, st)
		if !st.keptUp {
			break
		}
		if err := b.waitCaughtUp(ctx, feed); err != nil {
			return err
		}
	}
	if err := feed.stop(); err != nil {
		return err
	}
	if _, err := b.conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, walfeedSlot); err != nil {
		return fmt.Errorf("dropping slot %s: %w", walfeedSlot, err)
	}
	return os.RemoveAll(dir)
}

// parseRates reads --rates: MB/s, or max (0) for pgbench unthrottled.
func parseRates(s string) ([]float64, error) {
	var rates []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "max" {
			rates = append(rates, 0)
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("invalid rate %q in --rates: MB/s such as 16, or max", f)
		}
		rates = append(rates, r)
	}
	return rates, nil
}

func rateName(rate float64) string {
	if rate == 0 {
		return "max"
	}
	return fmt.Sprintf("%g MB/s", rate)
}

func (b *walBench) report(began time.Time) string {
	m := describeMachine()
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Scenario: walfeed\n\n")
	fmt.Fprintf(&sb, "- measured: %s UTC, took %.0f s; PostgreSQL %d\n", began.UTC().Format("2006-01-02 15:04"), time.Since(began).Seconds(), b.src.Major)
	fmt.Fprintf(&sb, "- machine: %d CPUs (%s); before the run: %s\n", m.CPUs, m.CPUModel, b.quiet)
	fmt.Fprintf(&sb, "- command: `go run ./bench walfeed --rates %s --step %s --interval %s --message %d --clients %d --latency %s --bandwidth %s`\n",
		b.s.rates, b.s.step, b.s.interval, b.s.message, b.s.clients, b.s.latency, b.s.bandwidth)
	fmt.Fprintf(&sb, "- how: a scratch cluster (fsync off, %dMB segments) writes WAL through `pgbench -n -c %d -f SCRIPT -R TPS -T %.0f`, SCRIPT being "+
		"`SELECT pg_logical_emit_message(false, 'pgpull-bench', repeat('x', %d))` and TPS the offered rate over that size (max: no -R), while "+
		"`pgpull wal --slot %s --interval %s DSN DIR` copies it, directly or through the shaped link; the feed's position is its slot's "+
		"restart point, which moves once a segment is durable in DIR. A rate is kept up when the backlog (WAL written, not yet copied) at "+
		"the end of its step is at most its peak over the step's first half (at least two segments) plus one segment; the rates stop at the first one not kept up\n\n",
		b.segSize>>20, b.s.clients, b.s.step.Seconds(), b.s.message, walfeedSlot, b.s.interval)
	fmt.Fprintln(&sb, "| link | offered | server wrote MB/s | feed copied MB/s | backlog peak MB | backlog at end MB | MB read per MB of WAL | kept up |")
	fmt.Fprintln(&sb, "|---|---|---|---|---|---|---|---|")
	for _, st := range b.steps {
		fmt.Fprintln(&sb, st.row())
	}
	fmt.Fprintln(&sb)
	for _, line := range sustained(b.steps) {
		fmt.Fprintf(&sb, "- %s\n", line)
	}
	return sb.String()
}
