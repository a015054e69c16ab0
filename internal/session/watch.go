package session

import (
	"context"
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
		if err := s.conn.Ping(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return s.Lost(err)
		}
	}
}

// Lost explains err as the loss of the backup when the control session has gone, and returns it
// unchanged otherwise.
func (s *Control) Lost(err error) error {
	if err == nil || !s.conn.IsClosed() {
		return err
	}
	return fmt.Errorf("lost the control session, and with it the backup on the server (%w); take the backup again", err)
}
