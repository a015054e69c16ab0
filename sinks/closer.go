package sinks

import (
	"errors"
	"os"
	"sync"

	"github.com/sourcegraph/conc/pool"
)

// fileCloser fsyncs and closes finished files in the background, a few at a time: one slow fsync
// of a 1 GiB segment then does not stall the stream, and only a few files are ever open.
type fileCloser struct {
	fsync    bool
	parallel int
	pool     *pool.Pool // at most parallel closes at once; Go waits for a free one

	mu   sync.Mutex
	errs []error
}

func newFileCloser(fsync bool, parallel int) *fileCloser {
	return &fileCloser{fsync: fsync, parallel: parallel, pool: pool.New().WithMaxGoroutines(parallel)}
}

// close fsyncs (when asked to) and closes f, waiting while parallel files are already being
// closed. It returns the errors of earlier closes, if any.
func (c *fileCloser) close(f *os.File) error {
	if !c.fsync {
		if err := f.Close(); err != nil {
			c.fail(err)
		}
		return c.err()
	}
	c.pool.Go(func() {
		err := f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			c.fail(err)
		}
	})
	return c.err()
}

// wait waits for every close begun and returns their errors. A pool ends with its Wait, so
// closes after this one go to a fresh pool. Like close, it is called from the sink's goroutine.
func (c *fileCloser) wait() error {
	c.pool.Wait()
	c.pool = pool.New().WithMaxGoroutines(c.parallel)
	return c.err()
}

func (c *fileCloser) fail(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

func (c *fileCloser) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.errs...)
}
