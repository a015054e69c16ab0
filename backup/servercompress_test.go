package backup

import (
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/session"
)

// TestServerCompressRule holds --server-compress=auto to what docs/server-compress.md says: on
// where the link, not the helper, sets a connection's pace and the data shrinks; off on a link as
// fast as the helper, on data that keeps its size, and with nothing to sample; and the reason
// names the figures it weighed.
func TestServerCompressRule(t *testing.T) {
	const mb = 1 << 20
	probe := func(ratio float64, helperMBs, linkMBs float64) session.HelperProbe {
		return session.HelperProbe{Path: "base/5/16396", Bytes: mb, Compressed: int64(ratio * mb), CPUs: 2,
			HelperTime: time.Duration(float64(time.Second) / helperMBs), Transfer: time.Duration(float64(time.Second) / linkMBs),
			RoundTrip: 40 * time.Millisecond}
	}
	tests := []struct {
		name  string
		probe session.HelperProbe
		jobs  int
		on    bool
		why   string
	}{
		{"pgbench data over the bench link", probe(0.06, 800, 25), 8, true, "compressed to 6% with lz4"},
		{"pgbench data on a local socket", probe(0.06, 800, 1000), 8, false, "under the 1.25x it takes"},
		{"pgbench data on a gigabit LAN", probe(0.06, 800, 118), 2, true, "each connection would move"},
		{"random bytes over the bench link", probe(1.004, 300, 25), 8, false, "does not shrink to 80%"},
		// bench/RESULTS.md, mixed:256MB: -j8 with the helper as fast as without it, on 2 CPUs.
		{"half random over the bench link, 8 jobs on 2 CPUs", probe(0.55, 300, 25), 8, false, "(2 CPUs for 8 jobs)"},
		{"half random over the bench link, 2 jobs on 2 CPUs", probe(0.55, 300, 25), 2, true, "compressed to 55%"},
		{"a helper slower than the link", probe(0.3, 20, 25), 1, false, "under the 1.25x"},
		{"an empty database", session.HelperProbe{}, 8, false, "no table data to sample"},
	}
	rule := DefaultTuning().ServerCompress
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			on, why := rule.weigh(tt.probe, "lz4", tt.jobs)
			if on != tt.on || !strings.Contains(why, tt.why) {
				t.Errorf("weigh = %v, %q; want %v and %q", on, why, tt.on, tt.why)
			}
		})
	}
}
