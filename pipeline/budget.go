package pipeline

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
)

// Budget bounds the bytes between the splitter and the sink. The splitter admits each Request
// before any worker sees it, and a sink gives each Piece back once it is written, so memory stays
// flat whatever the cluster's size. Admission is first come, first served: the earliest Piece a
// sink waits for always holds its share, so the reorder window cannot deadlock as long as the
// budget is at least one Request.
type Budget struct {
	sem     *semaphore.Weighted
	total   int64
	bufs    sync.Pool // *[]byte of bufSize capacity, reused across Pieces
	bufSize int
}

// NewBudget makes a budget of total bytes whose buffers are recycled at bufSize.
func NewBudget(total int64, bufSize int) *Budget {
	return &Budget{sem: semaphore.NewWeighted(total), total: total, bufSize: bufSize}
}

// Admit waits until the Request's bytes fit in the budget, then charges them to it. Each Piece
// gives its share back when its Done is called.
func (b *Budget) Admit(ctx context.Context, r *Request) error {
	for _, p := range r.Pieces {
		n := p.Length
		if n > b.total {
			n = b.total
		}
		if err := b.sem.Acquire(ctx, n); err != nil {
			return err
		}
		p.release = func() {
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

// Drain waits until every admitted byte has been written.
func (b *Budget) Drain(ctx context.Context) error {
	if err := b.sem.Acquire(ctx, b.total); err != nil {
		return err
	}
	b.sem.Release(b.total)
	return nil
}
