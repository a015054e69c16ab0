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
	sem     *semaphore.Weighted
	total   int64
	bufs    sync.Pool // *[]byte of bufSize capacity, reused across Pieces
	bufSize int

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
	b := &Budget{sem: semaphore.NewWeighted(total), total: total, bufSize: bufSize, held: total - initial}
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
			if p.Data != nil && cap(p.Data) == b.bufSize {
				buf := p.Data[:0]
				b.bufs.Put(&buf)
			}
			b.sem.Release(n)
		}
	}
	return nil
}

// Buffer returns an empty buffer of capacity at least n. Range-sized buffers come from the pool;
// small files get buffers of their own size, so a batch of them does not pin a range each.
func (b *Budget) Buffer(n int64) []byte {
	if n > int64(b.bufSize)/2 && n <= int64(b.bufSize) {
		if v := b.bufs.Get(); v != nil {
			return (*v.(*[]byte))[:0]
		}
		return make([]byte, 0, b.bufSize)
	}
	return make([]byte, 0, n)
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
