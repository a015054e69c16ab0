package backup

import "testing"

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
