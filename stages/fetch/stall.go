package fetch

import (
	"context"
	"fmt"
	"time"

	"github.com/pgpull/pgpull/internal/session"
)

// stallTimer ends a Request's context when the server has sent nothing for its duration. It
// measures silence rather than the whole Request, so a low --max-rate that makes a Request take
// long is not mistaken for a dead connection; time spent waiting on the rate limiter is not
// counted.
type stallTimer struct {
	timer *time.Timer
	after time.Duration
}

// startStallTimer returns ctx with a stall timer on it; a nil timer when after is 0 (no limit).
func startStallTimer(ctx context.Context, after time.Duration) (context.Context, *stallTimer, context.CancelFunc) {
	if after <= 0 {
		return ctx, nil, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stalled := fmt.Errorf("no data from the server for %s", session.Seconds(after))
	s := &stallTimer{timer: time.AfterFunc(after, func() { cancel(stalled) }), after: after}
	return ctx, s, func() { s.timer.Stop(); cancel(nil) }
}

// progress restarts the count: data arrived.
func (s *stallTimer) progress() {
	if s != nil {
		s.timer.Reset(s.after)
	}
}

// pause stops the count while the worker, not the server, is the one waiting.
func (s *stallTimer) pause() {
	if s != nil {
		s.timer.Stop()
	}
}
