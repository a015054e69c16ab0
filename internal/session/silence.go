package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SilenceError is a statement the server left unanswered for After: the network or the server
// is gone, or stuck.
type SilenceError struct {
	After time.Duration
	Doing string // what got no answer, "the control session's ping"; "" where the error's context says
}

// CheckNetwork is the next step after silence from the server.
const CheckNetwork = "check the network path to the server and that the server still runs (--io-timeout sets the wait)"

func (e *SilenceError) Error() string { return e.observed() + "; " + CheckNetwork }

// observed is what happened, without the next step.
func (e *SilenceError) observed() string {
	if e.Doing == "" {
		return "no answer from the server for " + Seconds(e.After)
	}
	return fmt.Sprintf("no answer from the server for %s to %s", Seconds(e.After), e.Doing)
}

// AnswerWithin bounds ctx by d, for a statement a live server answers at once, with a
// SilenceError naming doing as the cause when d passes; d 0 is no bound.
func AnswerWithin(ctx context.Context, d time.Duration, doing string) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, d, &SilenceError{After: d, Doing: doing})
}

// Silence is the SilenceError that ended bounded (made by AnswerWithin) in place of err, which
// pgx words as a closed connection or a cancelled context; err when bounded did not end so.
func Silence(bounded context.Context, err error) error {
	var silent *SilenceError
	if err != nil && errors.As(context.Cause(bounded), &silent) {
		return silent
	}
	return err
}
