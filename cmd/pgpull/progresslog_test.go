package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/backup"
)

// TestProgressSaysIdle: when nothing has moved for idleShown, -v's line and -P's plain line say
// how long instead of a rate that would count down as if data still came.
func TestProgressSaysIdle(t *testing.T) {
	copying := time.Now().Add(-time.Minute)
	tests := []struct {
		name      string
		p         backup.Progress
		want, not string
	}{
		{"moving", backup.Progress{Phase: backup.PhaseCopy, Bytes: 60e6, Total: 100e6, Copying: copying, Idle: time.Second},
			"MB/s", "no data"},
		{"quiet, under idleShown", backup.Progress{Phase: backup.PhaseCopy, Bytes: 60e6, Total: 100e6, Copying: copying, Idle: 19 * time.Second},
			"MB/s", "no data"},
		{"stalled", backup.Progress{Phase: backup.PhaseCopy, Bytes: 60e6, Total: 100e6, Copying: copying, Idle: 25 * time.Second},
			"no data for 25 s", "MB/s"},
		{"stalled in the WAL phase", backup.Progress{Phase: backup.PhaseWAL, Bytes: 60e6, Total: 100e6, Copying: copying, Idle: 40 * time.Second},
			"no data for 40 s", "MB/s"},
		{"stalled before the first byte written", backup.Progress{Phase: backup.PhaseCopy, Total: 100e6, Received: 1 << 20, Idle: 21 * time.Second},
			"no data for 21 s", "MB/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var verbose, plain bytes.Buffer
			(&progressLog{w: &verbose, verbose: true, phase: tt.p.Phase}).observe(tt.p)
			d := &progressDisplay{w: &plain, phase: tt.p.Phase}
			d.observe(tt.p)
			for name, out := range map[string]string{"-v": verbose.String(), "-P": plain.String()} {
				if name == "-P" && tt.p.Done() == 0 {
					continue // -P draws from the first byte written
				}
				if !strings.Contains(out, tt.want) || strings.Contains(out, tt.not) {
					t.Errorf("%s printed %q; want %q in it and not %q", name, out, tt.want, tt.not)
				}
			}
		})
	}
}
