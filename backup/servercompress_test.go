package backup

import (
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/session"
)

// TestServerCompressRule holds --server-compress=auto to what docs/server-compress.md says: on
// where the link, not the helper, sets a connection's pace and the data shrinks; off on a link as
// fast as the helper, on data that keeps its size, and with nothing to sample; zstd where the
// link is so slow that its smaller output pays for its slower helper, lz4 where the helper's speed
// counts more; and the reason names the figures it weighed.
func TestServerCompressRule(t *testing.T) {
	const mb = 1 << 20
	codec := func(name string, ratio, helperMBs float64) session.CodecProbe {
		return session.CodecProbe{Codec: name, Bytes: mb, Compressed: int64(ratio * mb),
			HelperTime: time.Duration(float64(time.Second) / helperMBs)}
	}
	probe := func(linkMBs float64, codecs ...session.CodecProbe) session.HelperProbe {
		return session.HelperProbe{Path: "base/5/16396", Bytes: mb, Codecs: codecs, CPUs: 2,
			Transfer: time.Duration(float64(time.Second) / linkMBs), RoundTrip: 40 * time.Millisecond}
	}
	// pgbench scale 20 on the bench machine: 16 MB of 337 in zstd, 39 MB in lz4.
	pgbenchZstd, pgbenchLZ4 := codec("zstd", 0.047, 400), codec("lz4", 0.115, 870)
	tests := []struct {
		name  string
		probe session.HelperProbe
		jobs  int
		codec string // "" for off
		why   string
	}{
		{"pgbench data over the bench link", probe(25, pgbenchLZ4, pgbenchZstd), 8, "lz4", "compressed to 11% with lz4 at 912 MB/s, to 5% with zstd at 419 MB/s"},
		{"pgbench data over a 16 Mbit link", probe(2, pgbenchLZ4, pgbenchZstd), 2, "zstd", "compressing with zstd, each connection would move"},
		{"pgbench data over a 16 Mbit link, lz4 alone", probe(2, pgbenchLZ4), 2, "lz4", "compressing with lz4, each connection would move"},
		{"pgbench data on a local socket", probe(1000, pgbenchLZ4, pgbenchZstd), 8, "", "under the 1.25x it takes"},
		{"pgbench data on a gigabit LAN, 2 jobs", probe(118, pgbenchLZ4, pgbenchZstd), 2, "lz4", "each connection would move"},
		{"random bytes over the bench link", probe(25, codec("lz4", 1.004, 300), codec("zstd", 1.0001, 600)), 8, "", "does not shrink to 80%"},
		// bench/RESULTS.md, mixed:256MB: -j8 with the helper as fast as without it, on 2 CPUs.
		{"half random over the bench link, 8 jobs on 2 CPUs", probe(25, codec("lz4", 0.55, 300)), 8, "", "(2 CPUs for 8 jobs)"},
		{"half random over the bench link, 2 jobs on 2 CPUs", probe(25, codec("lz4", 0.55, 300)), 2, "lz4", "compressed to 55%"},
		{"a helper slower than the link", probe(25, codec("zlib", 0.3, 20)), 1, "", "under the 1.25x"},
		{"an empty database", session.HelperProbe{}, 8, "", "no table data to sample"},
	}
	rule := DefaultTuning().ServerCompress
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			on, codec, why := rule.weigh(tt.probe, tt.jobs)
			if on != (tt.codec != "") || codec != tt.codec || !strings.Contains(why, tt.why) {
				t.Errorf("weigh = %v, %q, %q; want codec %q and %q", on, codec, why, tt.codec, tt.why)
			}
		})
	}
}

// TestProbeCodecs: the probe tries lz4 and zstd where the server has them, zlib only alone, and
// the codec asked for alone.
func TestProbeCodecs(t *testing.T) {
	tests := []struct {
		have []string
		want string
		try  string
		err  string
	}{
		{[]string{"lz4", "zstd", "zlib"}, "", "lz4 zstd", ""},
		{[]string{"lz4", "zlib"}, "", "lz4", ""},
		{[]string{"zlib"}, "", "zlib", ""},
		{[]string{"lz4", "zstd", "zlib"}, "zstd", "zstd", ""},
		{[]string{"lz4", "zlib"}, "zstd", "", "no zstd (it has lz4, zlib); install python3-zstandard"},
	}
	for _, tt := range tests {
		try, err := probeCodecs(tt.have, tt.want)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("probeCodecs(%v, %q): %v; want %q", tt.have, tt.want, err, tt.err)
			}
			continue
		}
		if err != nil || strings.Join(try, " ") != tt.try {
			t.Errorf("probeCodecs(%v, %q) = %v, %v; want %s", tt.have, tt.want, try, err, tt.try)
		}
	}
}
