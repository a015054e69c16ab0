package pipeline

import "sync"

// rangeBuffers are a budget's range-sized buffers, reused for the whole run rather than left to
// the collector, and made in huge pages where the platform gives them (newBuffer): a buffer made
// anew is written for the first time, and the kernel faults its memory in as it is written, a
// trap per 4 KiB page. On the bench's virtual machine each fault also traps to the hypervisor:
// perf stat there (CPU time, on a loaded machine) had 64 MiB written as 16,700 small pages cost
// 0.25 s of CPU, as 2 MiB pages 0.03-0.14 s; a pgbench -s 20 backup to /dev/null took 24-30k
// faults and 0.8-1.4 s of client CPU, with these buffers 4.5-5k faults and 0.2-0.4 s less.
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
