package backup

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTuningMemory holds the memory bound the README and bench/RESULTS.md's peak RSS rest on: the
// budget is two ranges per job and never under four, and GOMEMLIMIT sits the headroom above it.
func TestTuningMemory(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		jobs      int
		rangeSize int64
		inFlight  int64
	}{
		{1, 8 * mb, 32 * mb},
		{2, 8 * mb, 32 * mb},
		{4, 8 * mb, 64 * mb},
		{8, 1 * mb, 16 * mb},
	}
	tu := DefaultTuning()
	for _, tt := range tests {
		if got := tu.InFlightBytes(tt.jobs, tt.rangeSize); got != tt.inFlight {
			t.Errorf("-j %d --range-size %d: %d bytes in flight, want %d", tt.jobs, tt.rangeSize, got, tt.inFlight)
		}
		if got, want := tu.MemoryLimit(tt.jobs, tt.rangeSize), tt.inFlight+48*mb; got != want {
			t.Errorf("-j %d --range-size %d: GOMEMLIMIT %d, want %d", tt.jobs, tt.rangeSize, got, want)
		}
	}
}

// TestGoFar: without -j, a server a round trip of FarRoundTrip or more away gets FarJobs fetch
// connections, when it has the free connections for them; -j auto, a near server and a FarJobs no
// larger than Jobs keep Jobs.
func TestGoFar(t *testing.T) {
	tests := []struct {
		name      string
		roundTrip time.Duration
		farJobs   int
		auto      bool
		free      int
		jobs      int
		log       string
	}{
		{"far", 40 * time.Millisecond, 8, false, 100, 8, "-j 8: the server is 40 ms away"},
		{"near", 2 * time.Millisecond, 8, false, 100, 2, ""},
		{"at the bound", 10 * time.Millisecond, 8, false, 100, 8, "10 ms away"},
		{"-j given", 40 * time.Millisecond, 0, false, 100, 2, ""},
		{"-j auto", 40 * time.Millisecond, 8, true, 100, 2, ""},
		{"too few free connections", 40 * time.Millisecond, 8, false, 9, 2, "but it has 9 free connections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logged []string
			b := &Backup{free: tt.free, opts: Options{Jobs: 2, FarJobs: tt.farJobs, AutoJobs: tt.auto, Tuning: DefaultTuning(),
				Log: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }}}
			b.goFar(tt.roundTrip)
			all := strings.Join(logged, "\n")
			if b.opts.Jobs != tt.jobs || (tt.log == "") != (all == "") || !strings.Contains(all, tt.log) {
				t.Errorf("jobs %d, logged %q; want %d and %q", b.opts.Jobs, all, tt.jobs, tt.log)
			}
		})
	}
}
