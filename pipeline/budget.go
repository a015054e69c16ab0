package pipeline

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// Budget bounds the bytes between the splitter and the sink. The splitter admits each Request
// before any worker sees it, and a sink gives each Piece back once it is written, so memory stays
// flat whatever the cluster's size. Admission is first come, first served: the earliest Piece a
// sink waits for always holds its share, so the reorder window cannot deadlock as long as the
// budget is at least one Request.
//
// A budget may start smaller than its bound and Grow towards it (-j auto adds jobs, and each
// job its share of bytes): the part not yet granted is held back, as if admitted.
type Budget struct {
	sem    *semaphore.Weighted
	total  int64
	ranges rangeBuffers

	mu       sync.Mutex // orders Grow against Drain, which both reckon with held
	held     int64      // bytes of total not yet granted
	granted  atomic.Int64
	admitted atomic.Int64
	peak     atomic.Int64
}

// NewBudget makes a budget of total bytes whose buffers are recycled at bufSize.
func NewBudget(total int64, bufSize int) *Budget {
	return NewGrowingBudget(total, total, bufSize)
}

// NewGrowingBudget makes a budget bounded by total bytes that grants only initial of them until
// Grow grants more.
func NewGrowingBudget(initial, total int64, bufSize int) *Budget {
	initial = min(initial, total)
	b := &Budget{sem: semaphore.NewWeighted(total), total: total, ranges: rangeBuffers{size: bufSize}, held: total - initial}
	b.granted.Store(initial)
	if b.held > 0 {
		_ = b.sem.Acquire(context.Background(), b.held) // nothing is admitted yet: it cannot wait
	}
	return b
}

// Total is the budget's bound in bytes.
func (b *Budget) Total() int64 { return b.total }

// Granted is how many bytes may be admitted now: the bound less what is still held back.
func (b *Budget) Granted() int64 { return b.granted.Load() }

// Grow grants n more bytes, up to the bound.
func (b *Budget) Grow(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = min(n, b.held)
	if n > 0 {
		b.held -= n
		b.granted.Add(n)
		b.sem.Release(n)
	}
}

// Peak is the most bytes that were admitted at once and not yet given back: at most Granted.
func (b *Budget) Peak() int64 { return b.peak.Load() }

func (b *Budget) charge(n int64) {
	now := b.admitted.Add(n)
	for {
		p := b.peak.Load()
		if now <= p || b.peak.CompareAndSwap(p, now) {
			return
		}
	}
}

// Admit waits until the Request's bytes fit in the budget, then charges them to it. Each Piece
// gives its share back when its Done is called.
func (b *Budget) Admit(ctx context.Context, r *Request) error {
	for _, p := range r.Pieces {
		// A Piece larger than the budget (a WAL segment at a small --range-size) is charged the
		// whole budget, which it then has to itself.
		n := min(p.Length, b.Granted())
		if err := b.sem.Acquire(ctx, n); err != nil {
			return err
		}
		b.charge(n)
		p.release = func() {
			b.admitted.Add(-n)
			if p.loan != nil {
				b.ranges.giveBack(p.loan)
				p.loan = nil
			}
			b.sem.Release(n)
		}
	}
	return nil
}

// Buffer returns an empty buffer of capacity at least n for p's Data. A range-sized one is lent
// to p until it is Done (rangeBuffers), and lent again should p be read again; a small file gets
// a buffer of its own size, so that a batch of them does not pin a range each.
func (b *Budget) Buffer(p *Piece, n int64) []byte {
	size := int64(b.ranges.size)
	if n <= size/2 || n > size {
		return make([]byte, 0, n)
	}
	if p.loan == nil {
		p.loan = b.ranges.lend(1)
	}
	return p.loan.buf[:0]
}

// Carve sets each Piece's Data to an empty part of one range buffer, as long as the Piece, when
// together they fill more than half of one: the Pieces of a batch of small files then cost no
// buffers of their own, and no new memory. The buffer returns once all of them are Done. It
// reports whether it did; Pieces carved before (read again) keep their parts.
func (b *Budget) Carve(pieces []*Piece) bool {
	var total int64
	for _, p := range pieces {
		total += p.Length
	}
	size := int64(b.ranges.size)
	if len(pieces) == 0 || total <= size/2 || total > size {
		return false
	}
	l := pieces[0].loan
	for _, p := range pieces {
		if p.loan != l {
			l = nil
		}
	}
	if l == nil {
		l = b.ranges.lend(len(pieces))
	}
	off := int64(0)
	for _, p := range pieces {
		p.loan, p.Data = l, l.buf[off:off:off+p.Length]
		off += p.Length
	}
	return true
}

// Drain waits until every admitted byte has been written. A Grow waits for it.
func (b *Budget) Drain(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	granted := b.total - b.held
	if err := b.sem.Acquire(ctx, granted); err != nil {
		return err
	}
	b.sem.Release(granted)
	return nil
}
