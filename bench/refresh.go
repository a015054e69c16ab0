package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// refreshSettings are the refresh command's flags.
type refreshSettings struct {
	transactions int
	logDir       string
	scenarioFlags
}

func refreshCommand(stdout, stderr io.Writer) *ffcli.Command {
	var s refreshSettings
	cmd := newSubcommand("refresh", "time pgpull backup --refresh beside a full backup, locally and over a shaped link",
		stderr, func(ctx context.Context) error { return runRefreshBench(ctx, s, stdout, stderr) })
	s.register(cmd.FlagSet, scenarioFlagSpec{section: "refresh", scale: 30, scaleSize: "450 MB", jobs: "pgpull -j", link: true})
	cmd.FlagSet.IntVar(&s.transactions, "transactions", 2000, "pgbench transactions between the first backup and the refresh")
	cmd.FlagSet.StringVar(&s.logDir, "log", "", "keep in this directory each pgpull run's -v --show-sql output, lines stamped with the seconds since its start, its CPU profile (NAME.pprof), and the server log with every statement's duration")
	return cmd
}

// refreshRun is one measured run.
type refreshRun struct {
	link, kind string
	wall       time.Duration
	wire       int64   // bytes from the server to pgpull, counted by a proxy
	clientCPU  float64 // pgpull's user+system seconds
	serverCPU  float64 // the server's backends' user+system seconds
}

// refreshBench is one run of the scenario: the server and what measures the runs against it.
type refreshBench struct {
	s   refreshSettings
	sc  *scenario
	src *testcluster.Cluster
}

func runRefreshBench(ctx context.Context, s refreshSettings, stdout, stderr io.Writer) (err error) {
	sc, err := startScenario(ctx, s.scenarioFlags)
	if err != nil {
		return err
	}
	defer sc.closeInto(&err)
	opts := testcluster.Options{Checksums: true}
	if s.logDir != "" {
		if err := os.MkdirAll(s.logDir, 0o755); err != nil {
			return err
		}
		opts.Conf = []string{"log_min_duration_statement = 0", "log_line_prefix = '%m [%p] %a '"}
	}
	b := &refreshBench{s: s, sc: sc}
	if b.src, err = sc.w.startPgbench(ctx, opts, s.scale, stderr); err != nil {
		return err
	}
	links, err := sc.connect(b.src)
	if err != nil {
		return err
	}
	jobs := strconv.Itoa(s.jobs)
	// One earlier backup per link, so that each refresh starts from the same state.
	var copies []string
	for i := range links {
		dir := sc.w.join(fmt.Sprintf("copy%d", i))
		if _, err := b.pgpull(ctx, fmt.Sprintf("copy%d", i), "backup", "-c", "fast", "-j", jobs, linkDSN(sc.counter.addr), dir); err != nil {
			return err
		}
		copies = append(copies, dir)
	}
	fmt.Fprintf(stderr, "bench: pgbench -t %d\n", s.transactions)
	out, err := b.src.Pgbench(ctx, "-n", "-c", "4", "-j", "2", "-t", strconv.Itoa(s.transactions/4)).CombinedOutput()
	done := regexp.MustCompile(`number of transactions actually processed: (\d+)`).FindSubmatch(out)
	if err != nil || done == nil || string(done[1]) == "0" {
		return fmt.Errorf("pgbench did not run (%v):\n%s", err, out)
	}
	if err := b.src.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	var runs []refreshRun
	for i, l := range links {
		fmt.Fprintf(stderr, "bench: %s link\n", l.name)
		full, err := b.pgpull(ctx, fmt.Sprintf("full%d", i), "backup", "-c", "fast", "-j", jobs, linkDSN(l.addr), sc.w.join(fmt.Sprintf("full%d", i)))
		if err != nil {
			return err
		}
		full.link, full.kind = l.name, "full backup"
		os.RemoveAll(sc.w.join(fmt.Sprintf("full%d", i)))
		refresh, err := b.pgpull(ctx, fmt.Sprintf("refresh%d", i), "backup", "--refresh", "-c", "fast", "-j", jobs, linkDSN(l.addr), copies[i])
		if err != nil {
			return err
		}
		refresh.link, refresh.kind = l.name, "refresh"
		runs = append(runs, full, refresh)
	}
	report, err := b.report(ctx, string(done[1]), runs)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, report)
	if s.logDir != "" {
		if log, err := os.ReadFile(b.src.LogFile); err == nil {
			_ = os.WriteFile(filepath.Join(s.logDir, "server.log"), log, 0o644)
		}
	}
	if s.results != "" {
		return replaceSection(s.results, "refresh", report)
	}
	return nil
}

// pgpull runs pgpull with args and measures it; with --log, its trace and profile go to the log
// directory as name.log and name.pprof.
func (b *refreshBench) pgpull(ctx context.Context, name string, args ...string) (refreshRun, error) {
	var trace *stampedWriter
	if b.s.logDir != "" {
		f, err := os.Create(filepath.Join(b.s.logDir, name+".log"))
		if err != nil {
			return refreshRun{}, err
		}
		defer f.Close()
		trace = &stampedWriter{w: f, start: time.Now()}
		args = append([]string{args[0], "-v", "--show-sql", "--cpuprofile", filepath.Join(b.s.logDir, name+".pprof")}, args[1:]...)
	}
	cmd := exec.CommandContext(ctx, b.sc.bin, args...)
	if trace != nil {
		cmd.Stderr = trace
	}
	before, server0 := b.sc.counter.n.Load(), serverCPU(b.src)
	u, err := runChild(ctx, cmd)
	if err != nil {
		return refreshRun{}, fmt.Errorf("pgpull %s: %w", strings.Join(args, " "), err)
	}
	return refreshRun{wall: u.wall, wire: b.sc.counter.n.Load() - before, clientCPU: (u.user + u.sys).Seconds(),
		serverCPU: serverCPU(b.src) - server0}, nil
}

// report is the scenario's section: changed is the number of pgbench transactions between the
// earlier backups and the runs.
func (b *refreshBench) report(ctx context.Context, changed string, runs []refreshRun) (string, error) {
	s := b.s
	size, err := databaseBytes(ctx, b.src.TCPDSN())
	if err != nil {
		return "", err
	}
	m := describeMachine()
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Scenario: refresh\n\n")
	fmt.Fprintf(&sb, "- measured: %s UTC, took %.0f s\n", b.sc.began.UTC().Format("2006-01-02 15:04"), time.Since(b.sc.began).Seconds())
	fmt.Fprintf(&sb, "- machine: %d CPUs (%s), load average at start %s; shared with other work (other helpers' builds and tests), so expect noise\n",
		m.CPUs, m.CPUModel, m.LoadAvg)
	fmt.Fprintf(&sb, "- data set: pgbench scale %d, %d MB in databases; data checksums on; then %s pgbench transactions and a checkpoint between the earlier backup and the runs\n",
		s.scale, size/1e6, changed)
	fmt.Fprintf(&sb, "- command: `go run ./bench refresh --scale %d --transactions %d --jobs %d --latency %s --bandwidth %s`\n",
		s.scale, s.transactions, s.jobs, s.latency, s.bandwidth)
	fmt.Fprintf(&sb, "- runs: `pgpull backup -c fast -j %d DSN DIR` into an empty DIR (full backup), and `pgpull backup --refresh -c fast -j %d DSN COPY` "+
		"where COPY is a full backup taken before the transactions; one run each; bytes counted by a proxy in front of the server; "+
		"server CPU is the user+system time of the backends that ended (the postmaster's reaped children)\n\n", s.jobs, s.jobs)
	fmt.Fprintln(&sb, "| link | run | wall s | MB server→client | pgpull CPU s | server CPU s |")
	fmt.Fprintln(&sb, "|---|---|---|---|---|---|")
	for _, r := range runs {
		fmt.Fprintf(&sb, "| %s | %s | %.1f | %.1f | %.1f | %.1f |\n", r.link, r.kind, r.wall.Seconds(), float64(r.wire)/1e6, r.clientCPU, r.serverCPU)
	}
	return sb.String(), nil
}

// serverCPU is the user+system seconds of the server's finished backends: the postmaster's
// reaped children, from /proc (clock ticks of 1/100 s).
func serverCPU(c *testcluster.Cluster) float64 {
	head, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid := strings.SplitN(string(head), "\n", 2)[0]
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	var ticks float64
	for _, i := range []int{14, 15} { // cutime, cstime: fields 16 and 17, counted from the state at 3
		v, _ := strconv.ParseFloat(fields[i-1], 64)
		ticks += v
	}
	return ticks / 100
}

// countingProxy forwards TCP connections and counts the bytes from the server to clients.
type countingProxy struct {
	ln   net.Listener
	addr string
	n    atomic.Int64
	wg   sync.WaitGroup
}

func startCountingProxy(upstream string) (*countingProxy, error) {
	ln, err := testcluster.Listen()
	if err != nil {
		return nil, err
	}
	p := &countingProxy{ln: ln, addr: ln.Addr().String()}
	p.wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.forward(client, upstream) })
		}
	})
	return p, nil
}

func (p *countingProxy) forward(client net.Conn, upstream string) {
	defer client.Close()
	server, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		_, _ = io.Copy(server, client)
		server.Close()
	}()
	buf := make([]byte, 256<<10)
	for {
		n, err := server.Read(buf)
		p.n.Add(int64(n))
		if n > 0 {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Close stops accepting; open connections end with their clients.
func (p *countingProxy) Close() { p.ln.Close() }

// stampedWriter prefixes each line written to it with the seconds since start, so that a -v -d
// trace shows when each statement went out.
type stampedWriter struct {
	w       io.Writer
	start   time.Time
	partial bool // the last write ended inside a line
}

func (s *stampedWriter) Write(p []byte) (int, error) {
	var b []byte
	for _, c := range p {
		if !s.partial {
			b = fmt.Appendf(b, "%8.3f ", time.Since(s.start).Seconds())
			s.partial = true
		}
		b = append(b, c)
		if c == '\n' {
			s.partial = false
		}
	}
	if _, err := s.w.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}
