package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// linkFlags are the flags of a scenario measured locally and through the shaped link, on a
// machine checked quiet first.
type linkFlags struct {
	latency   time.Duration
	bandwidth string
	results   string
	noisy     bool
}

// register adds the flags to fs; scenario names the results section --results writes.
func (l *linkFlags) register(fs *flag.FlagSet, scenario string) {
	fs.DurationVar(&l.latency, "latency", 20*time.Millisecond, "delay each way on the shaped link")
	fs.StringVar(&l.bandwidth, "bandwidth", "200Mbit", "cap per connection and direction on the shaped link")
	fs.StringVar(&l.results, "results", "", "write the figures as the "+scenario+" section of this results file, e.g. bench/RESULTS.md")
	fs.BoolVar(&l.noisy, "noisy", false, "measure even when other work keeps the machine busy, and mark the figures so")
}

// linkScenario is what such a scenario starts from: the machine found quiet enough, a work
// directory with pgpull built into it, and, once the server runs, the links to it.
type linkScenario struct {
	flags   linkFlags
	bps     int64
	quiet   quietness
	began   time.Time
	w       *workDir
	bin     string
	counter *countingProxy // in front of the server: counts the bytes it sends
	shaper  *netShaper     // in front of counter
}

// benchLink is a way to the server: its name in reports, and the address to connect to.
type benchLink struct{ name, addr string }

func startLinkScenario(ctx context.Context, l linkFlags) (*linkScenario, error) {
	bps, err := parseBandwidth(l.bandwidth)
	if err != nil {
		return nil, err
	}
	quiet, err := checkQuiet(l.noisy)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	w, bin, err := newWorkDirWithPgpull(ctx)
	if err != nil {
		return nil, err
	}
	return &linkScenario{flags: l, bps: bps, quiet: quiet, began: began, w: w, bin: bin}, nil
}

// connect puts the counting proxy in front of src and the shaper in front of that, and returns
// the two links: local, through the counter only, and shaped.
func (sc *linkScenario) connect(src *testcluster.Cluster) ([]benchLink, error) {
	var err error
	if sc.counter, err = startCountingProxy(fmt.Sprintf("127.0.0.1:%d", src.Port)); err != nil {
		return nil, err
	}
	if sc.shaper, err = startNetShaper(sc.counter.addr, sc.flags.latency, sc.bps); err != nil {
		return nil, err
	}
	shaped := fmt.Sprintf("%s/%s", sc.flags.latency, sc.flags.bandwidth)
	return []benchLink{{"local", sc.counter.addr}, {shaped, sc.shaper.Addr}}, nil
}

// Close stops the proxies and removes the work directory with its clusters.
func (sc *linkScenario) Close() error {
	if sc.shaper != nil {
		sc.shaper.Close()
	}
	if sc.counter != nil {
		sc.counter.Close()
	}
	return sc.w.Close()
}
