package fetch

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestStallTimer runs in a synctest bubble: its sleeps advance a fake clock, exactly, so the
// outcome does not hang on how busy the machine is.
func TestStallTimer(t *testing.T) {
	const after = 50 * time.Millisecond
	tests := []struct {
		name    string
		run     func(s *stallTimer) // what happens over about 4 x after
		stalled bool
	}{
		{"silence", func(*stallTimer) { time.Sleep(4 * after) }, true},
		{"steady data", func(s *stallTimer) {
			for range 8 {
				time.Sleep(after / 2)
				s.progress()
			}
		}, false},
		{"long wait on the limiter", func(s *stallTimer) {
			s.pause()
			time.Sleep(4 * after)
			s.progress()
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, s, stop := startStallTimer(context.Background(), after)
				defer stop()
				tt.run(s)
				synctest.Wait() // a timer that fired has run its function
				cause := context.Cause(ctx)
				if got := cause != nil; got != tt.stalled {
					t.Fatalf("stalled = %v (%v), want %v", got, cause, tt.stalled)
				}
				if tt.stalled && !strings.Contains(cause.Error(), "no data from the server for 0.05 s") {
					t.Fatalf("cause %q does not say what stalled", cause)
				}
			})
		})
	}
	ctx, s, stop := startStallTimer(context.Background(), 0)
	defer stop()
	s.progress() // a nil timer: no limit, and safe to call
	if s != nil || ctx.Err() != nil {
		t.Fatalf("a 0 timeout made a timer (%v, %v)", s, ctx.Err())
	}
}
