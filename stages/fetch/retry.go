package fetch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/pipeline"
)

// errRetrySpent ends an attempt still running when the worker's RetryFor is spent.
var errRetrySpent = errors.New("the time for retries is spent")

// fetchWithRetry reads r, and when that fails for a reason another connection may mend, reads it
// again on a new one until it succeeds or RetryFor has passed since the first failure. The
// deadline holds every attempt, a reconnect waiting on connect_timeout or a read waiting on
// Timeout included, so the worker gives up in RetryFor, not in attempts times their waits.
func (w *Worker) fetchWithRetry(ctx context.Context, r *pipeline.Request) error {
	first := w.fetch(ctx, r)
	if first == nil || ctx.Err() != nil || !retryable(first) || w.RetryFor <= 0 {
		return first
	}
	retryCtx, cancel := context.WithDeadlineCause(ctx, time.Now().Add(w.RetryFor), errRetrySpent)
	defer cancel()
	backoff, last := w.Backoff, first
	for attempt := 1; ; attempt++ {
		w.close()
		select {
		case <-time.After(backoff):
		case <-retryCtx.Done():
			return w.gaveUp(ctx, first, last, attempt-1)
		}
		w.Log("fetch failed, reconnecting (retry %d, for %s more at most): %v", attempt, session.Seconds(time.Until(deadlineOf(retryCtx))), last)
		backoff = min(backoff*2, max(w.MaxBackoff, w.Backoff))
		err := w.fetch(retryCtx, r)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case retryCtx.Err() != nil:
			return w.gaveUp(ctx, first, last, attempt)
		case !retryable(err):
			return err
		}
		last = err
	}
}

// fatalError is a failure that reading again cannot mend.
type fatalError struct{ error }

// retryable tells a failure another connection may mend from one it cannot.
func retryable(err error) bool {
	var fatal fatalError
	return !errors.As(err, &fatal)
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// gaveUp is the error of a Request that no retry mended: what went wrong first, how long the
// worker tried again, and what the last attempt met.
func (w *Worker) gaveUp(ctx context.Context, first, last error, retries int) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	again := fmt.Sprintf("; %d %s over %s brought no data", retries, map[bool]string{true: "reconnect", false: "reconnects"}[retries == 1],
		session.Seconds(w.RetryFor))
	if last.Error() != first.Error() {
		again += fmt.Sprintf(" (the last: %v)", last)
	}
	return fmt.Errorf("%w%s; %s", first, again, session.CheckNetwork)
}
