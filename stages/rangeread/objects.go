package rangeread

import (
	"context"
	"io"
	"sync"
)

// Lister is a Store that can also list its objects, as an s3:// prefix can.
type Lister interface {
	Store
	Names(ctx context.Context) ([]string, error)
}

// Objects reads a backup kept as objects (backupcheck.Objects) through Readers that share one
// budget, and remembers the first read that failed: a stream cut by the store reads as a
// truncated backup to the checker, which the failure explains. The Readers share the budget, so
// objects are read one at a time, each closed before the next is opened, as a restore reads them.
type Objects struct {
	Store    Lister
	Settings Settings

	mu     sync.Mutex
	failed error
}

// Names lists the objects.
func (o *Objects) Names(ctx context.Context) ([]string, error) { return o.Store.Names(ctx) }

// Open reads object name by ranges.
func (o *Objects) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	size, version, err := o.Store.Stat(ctx, name)
	if err != nil {
		o.fail(err)
		return nil, err
	}
	return &failing{Reader: Open(ctx, o.Store, name, version, size, o.Settings), o: o}, nil
}

// Failed is the first error a read of the store gave, nil if none did.
func (o *Objects) Failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failed
}

func (o *Objects) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failed == nil {
		o.failed = err
	}
}

// failing tells its Objects of a failed read.
type failing struct {
	*Reader
	o *Objects
}

func (f *failing) Read(p []byte) (int, error) {
	n, err := f.Reader.Read(p)
	if err != nil && err != io.EOF {
		f.o.fail(err)
	}
	return n, err
}
