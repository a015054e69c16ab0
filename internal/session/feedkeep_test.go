package session

import (
	"testing"
	"time"
)

// TestFeedKeep: a feed without a slot is safe when wal_keep_size covers max_wal_size, 64
// segments, and four times the WAL written over an interval and the copy allowance; a shorter
// interval is offered only when it would be enough.
func TestFeedKeep(t *testing.T) {
	const mb = 1 << 20
	base := FeedKeep{SegmentSize: 16 * mb}
	tests := []struct {
		name         string
		maxWAL       int64
		keep         int64
		rate         float64 // bytes of WAL per second
		archiving    string
		archiver     bool
		standby      bool
		interval     time.Duration
		wantNeeded   int64
		wantSafe     bool
		wantInterval time.Duration
	}{
		{"default wal_keep_size, idle", 1024 * mb, 0, 0, "off", false, false, 2 * time.Second, 1024 * mb, false, 0},
		{"max_wal_size kept, idle", 1024 * mb, 1024 * mb, 0, "off", false, false, 2 * time.Second, 1024 * mb, true, 0},
		{"busy server: the rate term wins", 1024 * mb, 1024 * mb, 100 * mb, "off", false, false, 2 * time.Second, 1216 * mb, false, 1500 * time.Millisecond},
		{"rounded up to whole segments", 1024 * mb, 0, 10 * mb, "off", false, false, 29 * time.Second, 1216 * mb, false, 0},
		{"too busy for any interval", 1024 * mb, 1024 * mb, 1000 * mb, "off", false, false, 2 * time.Second, 12016 * mb, false, 0},
		{"archive_mode on, nothing archives", 1024 * mb, 0, 0, "on", false, false, 2 * time.Second, 1024 * mb, true, 0},
		{"archive_mode on with a command", 1024 * mb, 0, 0, "on", true, false, 2 * time.Second, 1024 * mb, false, 0},
		{"archive_mode on does not hold on a standby", 1024 * mb, 0, 0, "on", false, true, 2 * time.Second, 1024 * mb, false, 0},
		{"archive_mode always holds on a standby", 1024 * mb, 0, 0, "always", false, true, 2 * time.Second, 1024 * mb, true, 0},
		{"a small max_wal_size still keeps a burst of switches", 64 * mb, 64 * mb, 0, "off", false, false, 2 * time.Second, 1024 * mb, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := base
			k.MaxWALSize, k.WALKeepSize, k.Rate, k.Archiving, k.Archiver, k.Standby = tt.maxWAL, tt.keep, tt.rate, tt.archiving, tt.archiver, tt.standby
			if got := k.NeededKeep(tt.interval); got != tt.wantNeeded {
				t.Errorf("NeededKeep(%s) = %dMB, want %dMB", tt.interval, got/mb, tt.wantNeeded/mb)
			}
			if got := k.Safe(tt.interval); got != tt.wantSafe {
				t.Errorf("Safe(%s) = %v, want %v", tt.interval, got, tt.wantSafe)
			}
			got := k.SafeInterval()
			if got != tt.wantInterval {
				t.Errorf("SafeInterval() = %s, want %s", got, tt.wantInterval)
			}
			if got != 0 && !k.Safe(got) {
				t.Errorf("SafeInterval() = %s is not safe", got)
			}
		})
	}
}
