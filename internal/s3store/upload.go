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

// Parts bounds the memory of every upload of one Writer set: at most Parallel parts are being
// sent at once, each holding a buffer of PartSize, and each open Upload fills one more.
type Parts struct {
	PartSize int // at least 5 MiB, S3's smallest part but the last
	Parallel int
	slots    *semaphore.Weighted
	bufs     sync.Pool
	sent     atomic.Int64
}

// NewParts makes the shared part budget.
func NewParts(partSize, parallel int) *Parts {
	return &Parts{PartSize: partSize, Parallel: parallel, slots: semaphore.NewWeighted(int64(parallel))}
}

// Bytes is the most memory the part buffers take with uploads open at once.
func (p *Parts) Bytes(uploads int) int64 { return int64(p.PartSize) * int64(p.Parallel+uploads) }

// Sent is the bytes of the parts the store accepted.
func (p *Parts) Sent() int64 { return p.sent.Load() }

func (p *Parts) buffer() []byte {
	if b, ok := p.bufs.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, p.PartSize)
}

func (p *Parts) recycle(b []byte) { p.bufs.Put(&b) }

// maxParts is S3's limit on the parts of one upload.
const maxParts = 10000

// Upload writes one object as a multipart upload: Write fills a part buffer and hands each full
// part to a goroutine once a slot of Parts is free; Commit sends the last part and completes the
// upload, so the object appears whole or not at all; Abort removes the parts sent.
type Upload struct {
	store *Store
	parts *Parts
	key   string
	id    string
	ctx   context.Context
	stop  context.CancelFunc
	buf   []byte
	next  int // number of the part being filled
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
		return nil, fmt.Errorf("starting the upload of %s: %w", s.url(key), err)
	}
	uctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	return &Upload{store: s, parts: parts, key: key, id: id, ctx: uctx, stop: stop, buf: parts.buffer(), next: 1}, nil
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

// send hands the full buffer to a goroutine, waiting for a free slot, and takes a fresh one.
func (u *Upload) send() error {
	if u.next > maxParts {
		return fmt.Errorf("uploading %s: more than %d parts of %d MiB", u.store.url(u.key), maxParts, u.parts.PartSize>>20)
	}
	if err := u.parts.slots.Acquire(u.ctx, 1); err != nil {
		return u.failedOr(err)
	}
	part, data := u.next, u.buf
	u.next++
	u.buf = nil
	u.wg.Go(func() {
		defer u.parts.slots.Release(1)
		defer u.parts.recycle(data)
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
				u.err = fmt.Errorf("uploading part %d of %s: %w", part, u.store.url(u.key), err)
			}
			u.stop() // the other parts are wasted now
			return
		}
		u.sent = append(u.sent, minio.CompletePart{PartNumber: part, ETag: info.ETag})
		u.parts.sent.Add(int64(len(data)))
	})
	u.buf = u.parts.buffer()
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
	if len(u.buf) > 0 || u.next == 1 { // an empty object is one empty part
		if err := u.send(); err != nil {
			return err
		}
	}
	u.wg.Wait()
	if err := u.failed(); err != nil {
		return err
	}
	slices.SortFunc(u.sent, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	err := retry(u.ctx, func(ctx context.Context) error {
		_, err := u.store.core.CompleteMultipartUpload(ctx, u.store.loc.Bucket, u.key, u.id, u.sent, minio.PutObjectOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("completing the upload of %s: %w", u.store.url(u.key), err)
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
	warned := false
	err := retryWith(context.Background(), abortDelays, func(ctx context.Context) error {
		err := u.store.core.AbortMultipartUpload(ctx, u.store.loc.Bucket, u.key, u.id)
		if minio.ToErrorResponse(err).Code == "NoSuchUpload" {
			return nil
		}
		if err != nil && !warned && warn != nil {
			warned = true
			warn(fmt.Sprintf("cannot abort the upload of %s yet (%v); retrying for 2 minutes", u.store.url(u.key), err))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("could not abort the upload of %s, whose parts the store keeps: remove them with "+
			"aws s3api abort-multipart-upload --bucket %s --key %s --upload-id %s: %w", u.store.url(u.key), u.store.loc.Bucket, u.key, u.id, err)
	}
	return nil
}
