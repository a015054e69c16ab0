// Package rangeread reads an object of a store as parallel ranged reads, put back in order
// into one stream: a restore from S3 is then as fast as several connections together, within
// the same kind of byte budget a backup holds (pipeline.Budget).
package rangeread

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/pgpull/pgpull/pipeline"
)

// Store reads ranges of named objects.
type Store interface {
	// Stat gives the object's size and a version tag ReadRange requires ("" for none).
	Stat(ctx context.Context, name string) (size int64, version string, err error)
	// ReadRange fills p with the object's bytes from off on, retrying as it sees fit.
	ReadRange(ctx context.Context, name, version string, off int64, p []byte) error
}

// Held counts the bytes read from the store and not yet passed on: the memory the reads hold.
type Held struct {
	now, peak atomic.Int64
}

// Peak is the most bytes held at once.
func (h *Held) Peak() int64 { return h.peak.Load() }

func (h *Held) add(n int64) {
	now := h.now.Add(n)
	for p := h.peak.Load(); now > p && !h.peak.CompareAndSwap(p, now); p = h.peak.Load() {
	}
}

// span is one range of the object: admitted to the budget, read by a worker, then passed on.
type span struct {
	off   int64
	piece *pipeline.Piece // its budget share; Data holds the bytes once read
	done  chan struct{}
	err   error
}

// Reader is one object read as ranges: Jobs ranges in flight, each admitted to the budget before
// it is read, so that what is held never passes the budget however far the readers run ahead of
// the one who reads the stream.
type Reader struct {
	ctx    context.Context
	cancel context.CancelFunc
	held   *Held
	order  chan *span // every admitted span, in the object's order
	wg     sync.WaitGroup

	cur  *span
	pos  int // in cur.piece.Data
	err  error
	once sync.Once
}

// Settings are how a Reader reads.
type Settings struct {
	Jobs      int
	RangeSize int64
	Budget    *pipeline.Budget
	Held      *Held // counted into when set
}

// Open starts reading object name of size bytes (as Stat gave it, with version).
func Open(ctx context.Context, st Store, name, version string, size int64, set Settings) *Reader {
	ctx, cancel := context.WithCancel(ctx)
	held := set.Held
	if held == nil {
		held = &Held{}
	}
	ranges := set.Budget.Total()/set.RangeSize + 1
	r := &Reader{ctx: ctx, cancel: cancel, held: held, order: make(chan *span, ranges)}
	work := make(chan *span)
	r.wg.Add(1 + set.Jobs)
	go func() {
		defer r.wg.Done()
		defer close(work)
		defer close(r.order)
		r.admit(size, set, work)
	}()
	for range set.Jobs {
		go func() {
			defer r.wg.Done()
			for s := range work {
				s.piece.Data = set.Budget.Buffer(s.piece, s.piece.Length)[:s.piece.Length]
				r.held.add(s.piece.Length)
				s.err = st.ReadRange(ctx, name, version, s.off, s.piece.Data)
				close(s.done)
			}
		}()
	}
	return r
}

// admit cuts the object into ranges, in order, each waiting for its share of the budget.
func (r *Reader) admit(size int64, set Settings, work chan<- *span) {
	for off := int64(0); off < size; off += set.RangeSize {
		p := &pipeline.Piece{Offset: off, Length: min(set.RangeSize, size-off)}
		if err := set.Budget.Admit(r.ctx, &pipeline.Request{Pieces: []*pipeline.Piece{p}}); err != nil {
			return
		}
		s := &span{off: off, piece: p, done: make(chan struct{})}
		r.order <- s // room for as many spans as the budget admits
		select {
		case work <- s:
		case <-r.ctx.Done():
			s.err = r.ctx.Err()
			close(s.done)
			return
		}
	}
}

// Read passes on the object's bytes in order.
func (r *Reader) Read(p []byte) (int, error) {
	for r.err == nil && (r.cur == nil || r.pos == len(r.cur.piece.Data)) {
		r.release()
		s, ok := <-r.order
		if !ok {
			r.err = io.EOF
			if err := r.ctx.Err(); err != nil {
				r.err = err
			}
			break
		}
		<-s.done
		r.cur, r.pos = s, 0
		if s.err != nil {
			r.err = s.err
		}
	}
	if r.err != nil {
		return 0, r.err
	}
	n := copy(p, r.cur.piece.Data[r.pos:])
	r.pos += n
	return n, nil
}

// release gives the span passed on back to the budget.
func (r *Reader) release() {
	if r.cur == nil {
		return
	}
	if r.cur.piece.Data != nil {
		r.held.add(-r.cur.piece.Length)
	}
	r.cur.piece.Done()
	r.cur = nil
}

// Close stops the reads and gives back every byte they hold.
func (r *Reader) Close() error {
	r.once.Do(func() {
		r.cancel()
		r.wg.Wait()
		r.release()
		for s := range r.order {
			r.cur = s
			r.release()
		}
	})
	return nil
}
