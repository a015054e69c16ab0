package session

import (
	"testing"
	"time"
)

// TestWALRiskAtRisk: WAL is at risk when more than wal_keep_size is written during the copy and a
// checkpoint comes before the copy ends, by time or by WAL volume.
func TestWALRiskAtRisk(t *testing.T) {
	const mb = 1 << 20
	base := WALRisk{MaxWALSize: 1024 * mb, CheckpointTimeout: 5 * time.Minute, CompletionTarget: 0.9}
	tests := []struct {
		name     string
		rate     float64 // WAL bytes per second
		copyTime time.Duration
		keep     int64
		want     bool
	}{
		{"idle server", 0, time.Hour, 0, false},
		{"short copy, little WAL", 1 * mb, time.Minute, 0, false},
		{"copy outlasts checkpoint_timeout", 1 * mb, 10 * time.Minute, 0, true},
		{"WAL reaches max_wal_size / 1.9 first", 20 * mb, 2 * time.Minute, 0, true},
		{"wal_keep_size covers the copy's WAL", 1 * mb, 10 * time.Minute, 1024 * mb, false},
		{"wal_keep_size too small", 2 * mb, 10 * time.Minute, 1024 * mb, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			r.WALRate, r.CopyTime, r.WALKeepSize = tt.rate, tt.copyTime, tt.keep
			if got := r.AtRisk(); got != tt.want {
				t.Errorf("AtRisk() = %v with %d bytes of WAL during the copy; want %v", got, r.WALDuringCopy(), tt.want)
			}
		})
	}
}
