package main

import (
	"context"
	"flag"
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
	scale        int
	transactions int
	jobs         int
	latency      time.Duration
	bandwidth    string
	results      string
	logDir       string
}

func refreshCommand(stdout, stderr io.Writer) *ffcli.Command {
	var s refreshSettings
	fs := flag.NewFlagSet("bench refresh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&s.scale, "scale", 30, "pgbench scale factor of the data set (30 is about 450 MB)")
	fs.IntVar(&s.transactions, "transactions", 2000, "pgbench transactions between the first backup and the refresh")
	fs.IntVar(&s.jobs, "jobs", 4, "pgpull -j")
	fs.DurationVar(&s.latency, "latency", 20*time.Millisecond, "delay each way on the shaped link")
	fs.StringVar(&s.bandwidth, "bandwidth", "200Mbit", "cap per connection and direction on the shaped link")
	fs.StringVar(&s.logDir, "log", "", "keep in this directory each pgpull run's -v --show-sql output, lines stamped with the seconds since its start, its CPU profile (NAME.pprof), and the server log with every statement's duration")
	fs.StringVar(&s.results, "results", "", "write the figures as the refresh section of this results file, e.g. bench/RESULTS.md")
	return &ffcli.Command{
		Name:       "refresh",
		ShortUsage: "go run ./bench refresh [flags]",
		ShortHelp:  "time pgpull backup --refresh beside a full backup, locally and over a shaped link",
		FlagSet:    fs,
		Exec: func(ctx context.Context, _ []string) error {
			return runRefreshBench(ctx, s, stdout, stderr)
		},
	}
}

// refreshRun is one measured run.
type refreshRun struct {
	link, kind string
	wall       time.Duration
	wire       int64   // bytes from the server to pgpull, counted by a proxy
	clientCPU  float64 // pgpull's user+system seconds
	serverCPU  float64 // the server's backends' user+system seconds
}

func runRefreshBench(ctx context.Context, s refreshSettings, stdout, stderr io.Writer) (err error) {
	began := time.Now()
	bps, err := parseBandwidth(s.bandwidth)
	if err != nil {
		return err
	}
	w, bin, err := newWorkDirWithPgpull(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}()
	opts := testcluster.Options{Checksums: true}
	if s.logDir != "" {
		if err := os.MkdirAll(s.logDir, 0o755); err != nil {
			return err
		}
		opts.Conf = []string{"log_min_duration_statement = 0", "log_line_prefix = '%m [%p] %a '"}
	}
	src, err := w.startPgbench(ctx, opts, s.scale, stderr)
	if err != nil {
		return err
	}
	counter, err := startCountingProxy(fmt.Sprintf("127.0.0.1:%d", src.Port))
	if err != nil {
		return err
	}
	defer counter.Close()
	shaper, err := startNetShaper(counter.addr, s.latency, bps)
	if err != nil {
		return err
	}
	defer shaper.Close()
	links := []struct{ name, addr string }{
		{"local", counter.addr},
		{fmt.Sprintf("%s/%s", s.latency, s.bandwidth), shaper.Addr},
	}
	dsn := func(addr string) string {
		host, port, _ := net.SplitHostPort(addr)
		return fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres sslmode=disable", host, port)
	}
	pgpull := func(name string, args ...string) (refreshRun, error) {
		var trace *stampedWriter
		if s.logDir != "" {
			f, err := os.Create(filepath.Join(s.logDir, name+".log"))
			if err != nil {
				return refreshRun{}, err
			}
			defer f.Close()
			trace = &stampedWriter{w: f, start: time.Now()}
			args = append([]string{args[0], "-v", "--show-sql", "--cpuprofile", filepath.Join(s.logDir, name+".pprof")}, args[1:]...)
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		if trace != nil {
			cmd.Stderr = trace
		}
		before, server0 := counter.n.Load(), serverCPU(src)
		u, err := runChild(ctx, cmd)
		if err != nil {
			return refreshRun{}, fmt.Errorf("pgpull %s: %w", strings.Join(args, " "), err)
		}
		return refreshRun{wall: u.wall, wire: counter.n.Load() - before, clientCPU: (u.user + u.sys).Seconds(),
			serverCPU: serverCPU(src) - server0}, nil
	}
	// One earlier backup per link, so that each refresh starts from the same state.
	var copies []string
	for i := range links {
		dir := w.join(fmt.Sprintf("copy%d", i))
		if _, err := pgpull(fmt.Sprintf("copy%d", i), "backup", "-c", "fast", "-j", strconv.Itoa(s.jobs), dsn(counter.addr), dir); err != nil {
			return err
		}
		copies = append(copies, dir)
	}
	fmt.Fprintf(stderr, "bench: pgbench -t %d\n", s.transactions)
	out, err := src.Pgbench(ctx, "-n", "-c", "4", "-j", "2", "-t", strconv.Itoa(s.transactions/4)).CombinedOutput()
	done := regexp.MustCompile(`number of transactions actually processed: (\d+)`).FindSubmatch(out)
	if err != nil || done == nil || string(done[1]) == "0" {
		return fmt.Errorf("pgbench did not run (%v):\n%s", err, out)
	}
	changed := string(done[1])
	if err := src.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	var runs []refreshRun
	for i, l := range links {
		fmt.Fprintf(stderr, "bench: %s link\n", l.name)
		full, err := pgpull(fmt.Sprintf("full%d", i), "backup", "-c", "fast", "-j", strconv.Itoa(s.jobs), dsn(l.addr), w.join(fmt.Sprintf("full%d", i)))
		if err != nil {
			return err
		}
		full.link, full.kind = l.name, "full backup"
		os.RemoveAll(w.join(fmt.Sprintf("full%d", i)))
		refresh, err := pgpull(fmt.Sprintf("refresh%d", i), "backup", "--refresh", "-c", "fast", "-j", strconv.Itoa(s.jobs), dsn(l.addr), copies[i])
		if err != nil {
			return err
		}
		refresh.link, refresh.kind = l.name, "refresh"
		runs = append(runs, full, refresh)
	}
	size, err := databaseBytes(ctx, src.TCPDSN())
	if err != nil {
		return err
	}
	m := describeMachine()
	var b strings.Builder
	fmt.Fprintf(&b, "## Scenario: refresh\n\n")
	fmt.Fprintf(&b, "- measured: %s UTC, took %.0f s\n", began.UTC().Format("2006-01-02 15:04"), time.Since(began).Seconds())
	fmt.Fprintf(&b, "- machine: %d CPUs (%s), load average at start %s; shared with other work (other helpers' builds and tests), so expect noise\n",
		m.CPUs, m.CPUModel, m.LoadAvg)
	fmt.Fprintf(&b, "- data set: pgbench scale %d, %d MB in databases; data checksums on; then %s pgbench transactions and a checkpoint between the earlier backup and the runs\n",
		s.scale, size/1e6, changed)
	fmt.Fprintf(&b, "- command: `go run ./bench refresh --scale %d --transactions %d --jobs %d --latency %s --bandwidth %s`\n",
		s.scale, s.transactions, s.jobs, s.latency, s.bandwidth)
	fmt.Fprintf(&b, "- runs: `pgpull backup -c fast -j %d DSN DIR` into an empty DIR (full backup), and `pgpull backup --refresh -c fast -j %d DSN COPY` "+
		"where COPY is a full backup taken before the transactions; one run each; bytes counted by a proxy in front of the server; "+
		"server CPU is the user+system time of the backends that ended (the postmaster's reaped children)\n\n", s.jobs, s.jobs)
	fmt.Fprintln(&b, "| link | run | wall s | MB server→client | pgpull CPU s | server CPU s |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|")
	for _, r := range runs {
		fmt.Fprintf(&b, "| %s | %s | %.1f | %.1f | %.1f | %.1f |\n", r.link, r.kind, r.wall.Seconds(), float64(r.wire)/1e6, r.clientCPU, r.serverCPU)
	}
	fmt.Fprint(stdout, b.String())
	if s.logDir != "" {
		if log, err := os.ReadFile(src.LogFile); err == nil {
			_ = os.WriteFile(filepath.Join(s.logDir, "server.log"), log, 0o644)
		}
	}
	if s.results != "" {
		return replaceSection(s.results, "refresh", b.String())
	}
	return nil
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
