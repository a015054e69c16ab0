package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// scenario is what a measured subcommand starts from: its flags checked, the machine found quiet
// enough where it asks, a work directory with pgpull built into it, and, once the server runs,
// the proxies in front of it.
type scenario struct {
	flags   scenarioFlags
	bps     int64 // --bandwidth, 0 without the link flags
	quiet   quietness
	began   time.Time
	w       *workDir
	bin     string
	counter *countingProxy // in front of the server: counts the bytes it sends
	shaper  *netShaper     // the shaped link, in front of counter or a store
}

// benchLink is a way to the server (or the store): its name in reports, and the address (or
// endpoint) to connect to.
type benchLink struct{ name, addr string }

// startScenario checks f's bandwidth and the machine, then makes the work directory and builds
// pgpull; the caller closes the scenario.
func startScenario(ctx context.Context, f scenarioFlags) (*scenario, error) {
	bps, err := parseBandwidth(f.bandwidth)
	if err != nil {
		return nil, err
	}
	var quiet quietness
	if f.quietCheck {
		if quiet, err = checkQuiet(f.noisy); err != nil {
			return nil, err
		}
	}
	began := time.Now()
	w, bin, err := newWorkDirWithPgpull(ctx)
	if err != nil {
		return nil, err
	}
	return &scenario{flags: f, bps: bps, quiet: quiet, began: began, w: w, bin: bin}, nil
}

// connect puts the counting proxy in front of src and the shaper in front of that, and returns
// the two links: local, through the counter only, and shaped.
func (sc *scenario) connect(src *testcluster.Cluster) ([]benchLink, error) {
	var err error
	if sc.counter, err = startCountingProxy(fmt.Sprintf("127.0.0.1:%d", src.Port)); err != nil {
		return nil, err
	}
	shaped, err := sc.shape(sc.counter.addr)
	if err != nil {
		return nil, err
	}
	return []benchLink{{"local", sc.counter.addr}, {sc.shapedName(), shaped}}, nil
}

// shape starts the shaped link in front of upstream and returns its address.
func (sc *scenario) shape(upstream string) (string, error) {
	var err error
	if sc.shaper, err = startNetShaper(upstream, sc.flags.latency, sc.bps); err != nil {
		return "", err
	}
	return sc.shaper.Addr, nil
}

// shapedName names the shaped link in reports: latency/bandwidth as given.
func (sc *scenario) shapedName() string {
	return fmt.Sprintf("%s/%s", sc.flags.latency, sc.flags.bandwidth)
}

// linkDSN is the connection string of the scratch server reached at addr.
func linkDSN(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	return fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres sslmode=disable", host, port)
}

// Close stops the proxies and removes the work directory with its clusters.
func (sc *scenario) Close() error {
	if sc.shaper != nil {
		sc.shaper.Close()
	}
	if sc.counter != nil {
		sc.counter.Close()
	}
	return sc.w.Close()
}

// closeInto closes the scenario, for a deferred call, and keeps its error in *err unless that
// already holds the run's own.
func (sc *scenario) closeInto(err *error) {
	if cerr := sc.Close(); *err == nil {
		*err = cerr
	}
}
