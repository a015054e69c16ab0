package pipeline

import "sync"

// rangeBuffers are a budget's range-sized buffers, reused for the whole run rather than left to
// the collector, and made in huge pages where the platform gives them (newBuffer): a buffer made
// anew is written for the first time, and the kernel faults its memory in as it is written, a
// trap per 4 KiB page. Measured on the bench's virtual machine, where each fault traps to the
// hypervisor: the budget's 64 MiB faulted in as 16,000 small pages cost 0.25 s of CPU, as 2 MiB
// pages 0.03-0.1 s, of the 0.8 s a pgbench -s 20 backup took in all.
type rangeBuffers struct {
	size int
	mu   sync.Mutex
	free [][]byte
}

// loan is a range buffer lent to one Piece, or to the Pieces of one batch (Budget.Carve); it
// returns to the budget when the last of them is Done.
type loan struct {
	buf  []byte
	left int // Pieces not yet Done, guarded by rangeBuffers.mu
}

// lend lends a buffer to pieces Pieces.
func (r *rangeBuffers) lend(pieces int) *loan {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k := len(r.free); k > 0 {
		buf := r.free[k-1]
		r.free = r.free[:k-1]
		return &loan{buf: buf, left: pieces}
	}
	return &loan{buf: newBuffer(r.size), left: pieces}
}

// giveBack ends one Piece's share of l.
func (r *rangeBuffers) giveBack(l *loan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l.left--; l.left == 0 {
		r.free = append(r.free, l.buf)
	}
}
