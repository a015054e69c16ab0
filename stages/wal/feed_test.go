package wal

import (
	"testing"
	"time"
)

func TestCopyStateStale(t *testing.T) {
	ctime := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		last     copyState
		now      time.Time // the file's ctime in this listing
		finished bool
		want     bool
	}{
		{"finished and unchanged", copyState{ctime: ctime, at: ctime.Add(5 * time.Second)}, ctime, true, false},
		{"ctime moved", copyState{ctime: ctime, at: ctime.Add(5 * time.Second)}, ctime.Add(time.Second), true, true},
		{"copied while written, now finished", copyState{ctime: ctime, at: ctime.Add(5 * time.Second), partial: true}, ctime, true, true},
		{"being written, copied long after its last change", copyState{ctime: ctime, at: ctime.Add(3 * time.Second), partial: true}, ctime, false, false},
		{"being written, copied within the second of a change", copyState{ctime: ctime, at: ctime.Add(300 * time.Millisecond), partial: true}, ctime, false, true},
	}
	for _, tt := range tests {
		if got := tt.last.stale(tt.now, tt.finished); got != tt.want {
			t.Errorf("%s: stale = %v, want %v", tt.name, got, tt.want)
		}
	}
}
