package pipeline

import (
	"context"
	"testing"
	"unsafe"
)

// TestRangeBuffersLent: what the reuse of range buffers must never do is hand one buffer to two
// Pieces in flight. A range-sized Piece keeps its buffer when read again; the Pieces of a batch
// share one, each its own part, no append reaching a neighbour's; a buffer is lent again only
// once every Piece it was lent to is Done; small Pieces get buffers of their own.
func TestRangeBuffersLent(t *testing.T) {
	const size = 1 << 20
	b := NewBudget(8*size, size)
	ctx := context.Background()
	whole, again := request(size), request(size)
	batch := request(size/4, size/4, size/8, size/8)
	small := request(size / 2) // half a range: a buffer of its own
	for _, r := range []*Request{whole, again, batch, small} {
		if err := b.Admit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	start := func(buf []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(buf[:cap(buf)]))) }

	p := whole.Pieces[0]
	p.Data = b.Buffer(p, p.Length)
	first := start(p.Data)
	if p.Data = b.Buffer(p, p.Length); start(p.Data) != first || cap(p.Data) != size {
		t.Errorf("a Piece read again got another buffer")
	}
	q := again.Pieces[0]
	if q.Data = b.Buffer(q, q.Length); start(q.Data) == first {
		t.Fatalf("two Pieces in flight share a buffer")
	}
	if !b.Carve(batch.Pieces) {
		t.Fatalf("a batch filling most of a range was not carved")
	}
	shared := start(batch.Pieces[0].Data)
	for i, bp := range batch.Pieces {
		if len(bp.Data) != 0 || int64(cap(bp.Data)) != bp.Length {
			t.Errorf("piece %d: len %d cap %d, want 0 and its length %d", i, len(bp.Data), cap(bp.Data), bp.Length)
		}
		for range bp.Length {
			bp.Data = append(bp.Data, byte(i+1))
		}
	}
	_ = append(batch.Pieces[0].Data, 0xff) // past its part: a copy elsewhere, not its neighbour's first byte
	for i, bp := range batch.Pieces {
		for _, c := range bp.Data {
			if c != byte(i+1) {
				t.Fatalf("piece %d holds a byte %d: the parts overlap", i, c)
			}
		}
	}
	if shared == first || shared == start(q.Data) {
		t.Fatalf("the batch got a buffer in flight")
	}
	if s := small.Pieces[0]; b.Buffer(s, s.Length) == nil || s.loan != nil {
		t.Errorf("half a range was lent a range buffer")
	}

	p.Done()
	r := request(size)
	if err := b.Admit(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := start(b.Buffer(r.Pieces[0], size)); got != first {
		t.Errorf("a Done Piece's buffer was not lent again")
	}
	for _, bp := range batch.Pieces[:3] {
		bp.Done()
	}
	r2 := request(size)
	if err := b.Admit(ctx, r2); err != nil {
		t.Fatal(err)
	}
	if got := start(b.Buffer(r2.Pieces[0], size)); got == shared {
		t.Errorf("a batch's buffer was lent again while one of its Pieces was in flight")
	}
}
