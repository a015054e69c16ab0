package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Watch pings the control session every interval until stop is closed or ctx ends. The session
// is idle for the whole copy, and a server that ends it (pg_terminate_backend, a restart, an idle
// timeout) aborts the backup with it: watching ends the run then, not hours later at
// pg_backup_stop. Nothing else may use the session until Watch returns.
func (s *Control) Watch(ctx context.Context, interval time.Duration, stop <-chan struct{}) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// An empty statement cannot fail, so it cannot drop the temporary slot.
		pingCtx, cancel := s.answerWithin(ctx, "the control session's ping")
		err := Silence(pingCtx, s.conn.Ping(pingCtx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return s.Lost(err)
		}
	}
}

// Lost explains err as the loss of the backup when the control session has gone, and returns it
// unchanged otherwise. A session the server stopped answering is named so, with the way out.
func (s *Control) Lost(err error) error {
	if err == nil || !s.conn.IsClosed() {
		return err
	}
	var silent *SilenceError
	if errors.As(err, &silent) {
		return fmt.Errorf("%s, and the backup on the server is lost with the session; %s, then take the backup again",
			silent.observed(), CheckNetwork)
	}
	return fmt.Errorf("lost the control session, and with it the backup on the server (%w); take the backup again", err)
}
