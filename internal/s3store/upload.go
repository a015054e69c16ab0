package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/semaphore"
)

// MinPartSize is S3's smallest part but the last.
const MinPartSize = 5 << 20

// maxParts is S3's limit on the parts of one upload; partStep parts are sent at each size, so
// that 10000 parts, doubling from 5 MiB, make objects of up to 5 TB (S3's largest) while the
// first 5 GB go in the smallest parts.
const (
	maxParts = 10000
	partStep = 1000
)

// PartSize is the size of part n (from 1) of every upload.
func PartSize(n int) int { return MinPartSize << ((n - 1) / partStep) }

// Parts bounds the memory of every upload sharing it to Bytes: each part's buffer, from the
// first byte written into it until the store has it, holds its size of Bytes (but at most half,
// so that two objects being filled at once, base.tar and a tablespace's, always get a buffer).
// Parts of up to Bytes/2 keep within Bytes; larger ones, for objects of many GB on a small
// budget, take what S3's 10000 parts need.
type Parts struct {
	bytes int64
	slots *semaphore.Weighted
	bufs  sync.Pool
	sent  atomic.Int64
	peak  atomic.Int64
	held  atomic.Int64
}

// NewParts makes a budget of n bytes for the part buffers, at least 2 x MinPartSize.
func NewParts(n int64) *Parts {
	n = max(n, 2*MinPartSize)
	return &Parts{bytes: n, slots: semaphore.NewWeighted(n)}
}

// Bytes is the budget.
func (p *Parts) Bytes() int64 { return p.bytes }

// Sent is the bytes of the parts the store accepted.
func (p *Parts) Sent() int64 { return p.sent.Load() }

// Peak is the most bytes of the budget the buffers held at once.
func (p *Parts) Peak() int64 { return p.peak.Load() }

func (p *Parts) weight(size int) int64 { return min(int64(size), p.bytes/2) }

// take waits for the budget of a part of size bytes and returns its empty buffer.
func (p *Parts) take(ctx context.Context, size int) ([]byte, error) {
	w := p.weight(size)
	if err := p.slots.Acquire(ctx, w); err != nil {
		return nil, err
	}
	now := p.held.Add(w)
	for {
		old := p.peak.Load()
		if now <= old || p.peak.CompareAndSwap(old, now) {
			break
		}
	}
	if b, ok := p.bufs.Get().(*[]byte); ok && cap(*b) >= size {
		return (*b)[:0:size], nil
	}
	return make([]byte, 0, size), nil
}

// give returns a part's buffer and its budget.
func (p *Parts) give(b []byte) {
	w := p.weight(cap(b))
	b = b[:0:cap(b)]
	p.bufs.Put(&b)
	p.held.Add(-w)
	p.slots.Release(w)
}

// Upload writes one object as a multipart upload: Write fills a part buffer taken from Parts and
// hands each full part to a goroutine that sends it and gives the buffer back; Commit sends the last part and completes the
// upload, so the object appears whole or not at all; Abort removes the parts sent.
type Upload struct {
	store *Store
	parts *Parts
	key   string
	id    string
	ctx   context.Context
	stop  context.CancelFunc
	buf   []byte // nil until the first byte of part next
	next  int    // number of the part being filled
	wg    sync.WaitGroup
	mu    sync.Mutex
	sent  []minio.CompletePart
	err   error
	done  bool
}

// Create starts the multipart upload of object name under the store's prefix.
func (s *Store) Create(ctx context.Context, name string, parts *Parts) (*Upload, error) {
	key := s.loc.Key(name)
	var id string
	err := retry(ctx, func(ctx context.Context) (err error) {
		id, err = s.core.NewMultipartUpload(ctx, s.loc.Bucket, key, minio.PutObjectOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("starting the upload of %s: %w", s.url(key), s.requestError(err))
	}
	uctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	return &Upload{store: s, parts: parts, key: key, id: id, ctx: uctx, stop: stop, next: 1}, nil
}

func (s *Store) url(key string) string { return "s3://" + s.loc.Bucket + "/" + key }

// Write copies b into part buffers, sending each as it fills.
func (u *Upload) Write(b []byte) (int, error) {
	if u.done {
		return 0, fmt.Errorf("uploading %s: write after commit or abort", u.store.url(u.key))
	}
	n := 0
	for len(b) > 0 {
		if err := u.failed(); err != nil {
			return n, err
		}
		if u.buf == nil {
			if err := u.fresh(); err != nil {
				return n, err
			}
		}
		c := copy(u.buf[len(u.buf):cap(u.buf)], b)
		u.buf = u.buf[:len(u.buf)+c]
		n += c
		b = b[c:]
		if len(u.buf) == cap(u.buf) {
			if err := u.send(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// fresh takes the buffer of part next, waiting for the budget.
func (u *Upload) fresh() error {
	if u.next > maxParts {
		return fmt.Errorf("uploading %s: more than %d parts", u.store.url(u.key), maxParts)
	}
	buf, err := u.parts.take(u.ctx, PartSize(u.next))
	if err != nil {
		return u.failedOr(err)
	}
	u.buf = buf
	return nil
}

// send hands the filled buffer to a goroutine, which gives it back once the store has it.
func (u *Upload) send() error {
	part, data := u.next, u.buf
	u.next++
	u.buf = nil
	u.wg.Go(func() {
		defer u.parts.give(data)
		var info minio.ObjectPart
		err := retry(u.ctx, func(ctx context.Context) (err error) {
			info, err = u.store.core.PutObjectPart(ctx, u.store.loc.Bucket, u.key, u.id, part,
				bytes.NewReader(data), int64(len(data)), minio.PutObjectPartOptions{})
			return err
		})
		u.mu.Lock()
		defer u.mu.Unlock()
		if err != nil {
			if u.err == nil {
				u.err = fmt.Errorf("uploading part %d of %s (tried 5 times over 7.5 s): %w; %s", part, u.store.url(u.key),
					u.store.requestError(err), takeAgain)
			}
			u.stop() // the other parts are wasted now
			return
		}
		u.sent = append(u.sent, minio.CompletePart{PartNumber: part, ETag: info.ETag})
		u.parts.sent.Add(int64(len(data)))
	})
	return nil
}

func (u *Upload) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *Upload) failedOr(err error) error {
	if ferr := u.failed(); ferr != nil {
		return ferr
	}
	return err
}

// Commit sends the last part, waits for all, and completes the upload.
func (u *Upload) Commit() error {
	if u.done {
		return errors.New("commit after commit or abort")
	}
	if u.next == 1 && u.buf == nil { // an empty object is one empty part
		if err := u.fresh(); err != nil {
			return err
		}
	}
	if u.buf != nil {
		if err := u.send(); err != nil {
			return err
		}
	}
	u.wg.Wait()
	if err := u.failed(); err != nil {
		return err
	}
	slices.SortFunc(u.sent, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	if err := u.complete(); err != nil {
		return err
	}
	u.done = true
	u.stop()
	return nil
}

// abortDelays keep trying to remove the parts of a failed upload for about two minutes, long
// enough for a store that went away to come back.
var abortDelays = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
	15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second}

// Abort stops the parts in flight and aborts the upload, so that the store keeps no parts.
// warn is told once when the store cannot be reached at the first attempt.
func (u *Upload) Abort(warn func(string)) error {
	if u.done {
		return nil
	}
	u.done = true
	u.stop()
	u.wg.Wait()
	if u.buf != nil {
		u.parts.give(u.buf)
		u.buf = nil
	}
	warned := false
	err := retryWith(context.Background(), abortDelays, func(ctx context.Context) error {
		err := u.store.core.AbortMultipartUpload(ctx, u.store.loc.Bucket, u.key, u.id)
		if minio.ToErrorResponse(err).Code == "NoSuchUpload" {
			return nil
		}
		if err != nil && !warned && warn != nil {
			warned = true
			warn(fmt.Sprintf("cannot abort the upload of %s yet (%v); retrying for 2 minutes", u.store.url(u.key), u.store.requestError(err)))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("could not abort the upload of %s, whose parts the store keeps: remove them with "+
			"aws s3api abort-multipart-upload --bucket %s --key %s --upload-id %s: %w", u.store.url(u.key), u.store.loc.Bucket, u.key, u.id, err)
	}
	return nil
}
