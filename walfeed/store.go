package walfeed

import (
	"context"
	"time"
)

// storeRetry is the wait between two rounds of attempts to store a file in an archive that did
// not answer (each round is the store's own few attempts).
const storeRetry = 5 * time.Second

// store puts data in the archive as name, replacing replaced. An archive that does not answer is
// waited for, as long as it takes: the WAL not yet copied waits on the server meanwhile (held by
// the slot, or within wal_keep_size), and the feed catches up once the archive answers again.
func (f *Feed) store(ctx context.Context, name string, data []byte, replaced string) error {
	failed := false
	for {
		err := f.Archive.put(ctx, name, data, replaced)
		if err == nil {
			if failed {
				f.Warn("%s answers again: catching up", f.Archive)
			}
			return nil
		}
		if !f.Archive.transient(err) || ctx.Err() != nil {
			return err
		}
		if !failed {
			f.Warn("%v; retrying every %s, while the server keeps the WAL not yet copied", err, storeRetry)
			failed = true
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(storeRetry):
		}
	}
}
