package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// netShaper is an in-process TCP proxy in front of the server that delays
// traffic and caps each connection's throughput, to show how the tools
// behave over a WAN link. It embeds Toxiproxy: its latency and bandwidth
// toxics apply per connection and per direction, which is the model wanted
// (a per-connection cap is what a TCP window over a long path gives).
type netShaper struct {
	proxy *toxiproxy.Proxy
	Addr  string // host:port clients connect to instead of the server
}

// startNetShaper proxies to upstream (host:port) adding latency each way and
// capping each connection at bitsPerSec in each direction; zero disables
// either.
func startNetShaper(upstream string, latency time.Duration, bitsPerSec int64) (*netShaper, error) {
	// Toxics log through zerolog's global logger; only errors matter here.
	zerolog.SetGlobalLevel(zerolog.ErrorLevel)
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	listen, err := testcluster.FreeAddr()
	if err != nil {
		return nil, err
	}
	p := toxiproxy.NewProxy(server, "pgpull-bench", listen, upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start proxy to %s: %w", upstream, err)
	}
	for _, stream := range []string{"upstream", "downstream"} {
		var toxics []string
		if latency > 0 {
			toxics = append(toxics, fmt.Sprintf(`{"name":"latency_%s","type":"latency","stream":%q,"attributes":{"latency":%d}}`,
				stream, stream, latency.Milliseconds()))
		}
		if bitsPerSec > 0 {
			// The bandwidth toxic's rate is in kB/s (1000 bytes).
			rate := max(bitsPerSec/8/1000, 1)
			toxics = append(toxics, fmt.Sprintf(`{"name":"bandwidth_%s","type":"bandwidth","stream":%q,"attributes":{"rate":%d}}`,
				stream, stream, rate))
		}
		for _, t := range toxics {
			if _, err := p.Toxics.AddToxicJson(strings.NewReader(t)); err != nil {
				p.Stop()
				return nil, fmt.Errorf("add toxic %s: %w", t, err)
			}
		}
	}
	return &netShaper{proxy: p, Addr: p.Listen}, nil
}

// Close stops the proxy and drops its connections.
func (s *netShaper) Close() { s.proxy.Stop() }

// parseBandwidth reads a rate such as 200Mbit, 1Gbit or 500kbit (decimal
// units, bits per second, as network links are sold); "" or 0 means none.
func parseBandwidth(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" || t == "0" {
		return 0, nil
	}
	t = strings.TrimSuffix(t, "/s")
	if strings.HasSuffix(t, "bps") {
		t = strings.TrimSuffix(t, "ps") + "it"
	}
	mult := 0.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if mult == 0 || err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid bandwidth %q: use e.g. 200Mbit or 1Gbit", s)
	}
	return int64(n * mult), nil
}
