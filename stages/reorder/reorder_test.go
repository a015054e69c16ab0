package reorder

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pgpull/pgpull/pipeline"
)

// testFile is the File every test Piece belongs to; reorder never looks inside it.
var testFile = &pipeline.File{Path: "base/1/1259", Size: 1 << 40, Segment: -1}

func pieces(n int) []*pipeline.Piece {
	ps := make([]*pipeline.Piece, n)
	for i := range ps {
		ps[i] = &pipeline.Piece{File: testFile, Offset: int64(i) * 8192, Length: 8192, Seq: uint64(i)}
	}
	return ps
}

// requests groups pieces into Requests by the given seqs, in the given order.
func requests(ps []*pipeline.Piece, groups [][]uint64) []*pipeline.Request {
	rs := make([]*pipeline.Request, len(groups))
	for i, g := range groups {
		r := &pipeline.Request{}
		for _, seq := range g {
			r.Pieces = append(r.Pieces, ps[seq])
		}
		rs[i] = r
	}
	return rs
}

// run feeds rs to Run in order and collects the Seqs it emits.
func run(t *testing.T, rs []*pipeline.Request) ([]uint64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in := make(chan *pipeline.Request)
	out := make(chan *pipeline.Piece)
	done := make(chan error, 1)
	go func() {
		err := Run(ctx, in, out)
		close(out)
		done <- err
	}()
	go func() {
		for _, r := range rs {
			select {
			case in <- r:
			case <-ctx.Done():
				return
			}
		}
		close(in)
	}()
	var got []uint64
	for p := range out {
		got = append(got, p.Seq)
	}
	return got, <-done
}

func checkInOrder(t *testing.T, got []uint64, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("got %d pieces, want %d: %v", len(got), n, got)
	}
	for i, seq := range got {
		if seq != uint64(i) {
			t.Fatalf("piece %d out of order: got seqs %v", i, got)
		}
	}
}

func TestRunOrders(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		groups [][]uint64
	}{
		{"empty", 0, nil},
		{"in order", 4, [][]uint64{{0}, {1}, {2}, {3}}},
		{"reversed", 4, [][]uint64{{3}, {2}, {1}, {0}}},
		{"one request, reversed inside", 4, [][]uint64{{3, 2, 1, 0}}},
		{"batches out of order", 6, [][]uint64{{4, 5}, {0, 1}, {2, 3}}},
		{"non-consecutive seqs in a request", 6, [][]uint64{{1, 5}, {3}, {0, 2, 4}}},
		{"first piece last", 5, [][]uint64{{1, 2}, {4}, {3}, {0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := run(t, requests(pieces(tt.n), tt.groups))
			if err != nil {
				t.Fatal(err)
			}
			checkInOrder(t, got, tt.n)
		})
	}
}

// TestRunAnyArrivalOrder: whatever the grouping and arrival order, the output is 0, 1, 2, ...
func TestRunAnyArrivalOrder(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		n := rng.IntN(200)
		seqs := make([]uint64, n)
		for i := range seqs {
			seqs[i] = uint64(i)
		}
		if seed%2 == 0 {
			// Requests of scattered seqs, as a test of treating Pieces individually.
			rng.Shuffle(n, func(i, j int) { seqs[i], seqs[j] = seqs[j], seqs[i] })
		}
		var groups [][]uint64
		for len(seqs) > 0 {
			k := min(1+rng.IntN(4), len(seqs))
			groups = append(groups, seqs[:k])
			seqs = seqs[k:]
		}
		rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })

		got, err := run(t, requests(pieces(n), groups))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		checkInOrder(t, got, n)
	}
}

func TestRunGapNamesMissingSeq(t *testing.T) {
	got, err := run(t, requests(pieces(5), [][]uint64{{0, 1}, {3}, {4}}))
	if err == nil || !strings.Contains(err.Error(), "piece 2") {
		t.Fatalf("err = %v, want one naming piece 2", err)
	}
	if len(got) != 2 {
		t.Errorf("emitted %v before the gap, want [0 1]", got)
	}
}

func TestRunDuplicateSeq(t *testing.T) {
	ps := pieces(3)
	rs := []*pipeline.Request{{Pieces: []*pipeline.Piece{ps[1]}}, {Pieces: []*pipeline.Piece{ps[1]}}}
	if _, err := run(t, rs); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("err = %v, want a duplicate error", err)
	}
}

// TestRunCancelReleasesHeld: on cancel, Run returns ctx.Err() and gives held bytes back. It runs
// in a synctest bubble, so that the cancel comes once Run is surely holding the Pieces.
func TestRunCancelReleasesHeld(t *testing.T) { synctest.Test(t, testRunCancelReleasesHeld) }

func testRunCancelReleasesHeld(t *testing.T) {
	budget := pipeline.NewBudget(3*8192, 8192)
	ctx, cancel := context.WithCancel(context.Background())
	ps := pieces(3)
	r := &pipeline.Request{Pieces: ps}
	if err := budget.Admit(ctx, r); err != nil {
		t.Fatal(err)
	}
	in := make(chan *pipeline.Request, 1)
	in <- &pipeline.Request{Pieces: []*pipeline.Piece{ps[2], ps[1]}}
	out := make(chan *pipeline.Piece) // nobody reads: Run waits for piece 0 anyway
	done := make(chan error, 1)
	go func() { done <- Run(ctx, in, out) }()
	synctest.Wait() // Run has taken the Request and waits for piece 0
	if len(in) != 0 {
		t.Fatal("Run did not take the Request")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	ps[0].Done() // the one Run never saw
	drainCtx, stop := context.WithTimeout(context.Background(), time.Second)
	defer stop()
	if err := budget.Drain(drainCtx); err != nil {
		t.Fatalf("held pieces not released: %v", err)
	}
}

// TestRunWithinBudget drives the real Budget: Requests are admitted in Seq order, delivered to
// Run shuffled, and the sink calls Done. The bytes between delivery and the sink never exceed
// the Budget, and a Budget of one Request is enough to finish.
//
// Each budget runs in a synctest bubble: the fetch workers' "stop waiting after a moment" then
// fires exactly when everything else is blocked, however busy the machine.
func TestRunWithinBudget(t *testing.T) {
	for _, total := range []int64{4096, 16384, 1 << 20} {
		t.Run(strconv.FormatInt(total, 10), func(t *testing.T) { synctest.Test(t, func(t *testing.T) { testRunWithinBudget(t, total) }) })
	}
}

func testRunWithinBudget(t *testing.T, total int64) {
	rng := rand.New(rand.NewPCG(uint64(total), 7))
	const n = 1000
	ps := make([]*pipeline.Piece, n)
	for i := range ps {
		ps[i] = &pipeline.Piece{File: testFile, Length: 1 + rng.Int64N(1024), Seq: uint64(i)}
	}
	var rs []*pipeline.Request
	for i := 0; i < n; {
		k := min(1+rng.IntN(4), n-i) // at most 4 KiB, so one Request always fits
		rs = append(rs, &pipeline.Request{Pieces: ps[i : i+k]})
		i += k
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	budget := pipeline.NewBudget(total, 8192)
	admitted := make(chan *pipeline.Request)
	go func() { // the splitter: admission in Seq order
		defer close(admitted)
		for _, r := range rs {
			if err := budget.Admit(ctx, r); err != nil {
				return
			}
			select {
			case admitted <- r:
			case <-ctx.Done():
				return
			}
		}
	}()

	var inWindow, maxInWindow, heldPieces, maxHeldPieces atomic.Int64
	var outOfOrder int
	in := make(chan *pipeline.Request)
	go func() { // the fetch workers: deliver whatever is admitted, in random order
		defer close(in)
		var pending []*pipeline.Request
		var lastSeq int64 = -1
		open := true
		target := 1
		for open || len(pending) > 0 {
			// Collect up to target Requests before picking one; when the splitter is stuck
			// on the Budget, stop waiting after a moment and deliver what is pending.
			if open && len(pending) < target {
				var wait <-chan time.Time
				if len(pending) > 0 {
					wait = time.After(200 * time.Microsecond)
				}
				select {
				case r, ok := <-admitted:
					if ok {
						pending = append(pending, r)
					} else {
						open = false
					}
					continue
				case <-wait:
				}
			}
			target = 1 + rng.IntN(16)
			i := rng.IntN(len(pending))
			r := pending[i]
			pending[i] = pending[len(pending)-1]
			pending = pending[:len(pending)-1]
			if s := int64(r.Pieces[0].Seq); s < lastSeq {
				outOfOrder++
			} else {
				lastSeq = s
			}
			updateMax(&maxInWindow, inWindow.Add(r.Bytes()))
			updateMax(&maxHeldPieces, heldPieces.Add(int64(len(r.Pieces))))
			select {
			case in <- r:
			case <-ctx.Done():
				return
			}
		}
	}()

	out := make(chan *pipeline.Piece)
	done := make(chan error, 1)
	go func() {
		err := Run(ctx, in, out)
		close(out)
		done <- err
	}()
	var next uint64
	for p := range out { // the sink
		if p.Seq != next {
			t.Fatalf("budget %d: got piece %d, want %d", total, p.Seq, next)
		}
		next++
		inWindow.Add(-p.Length)
		heldPieces.Add(-1)
		p.Done()
	}
	if err := <-done; err != nil {
		t.Fatalf("budget %d: %v", total, err)
	}
	if next != n {
		t.Fatalf("budget %d: got %d pieces, want %d", total, next, n)
	}
	if err := budget.Drain(ctx); err != nil {
		t.Fatalf("budget %d: not every byte given back: %v", total, err)
	}
	cancel()
	if m := maxInWindow.Load(); m > total {
		t.Errorf("budget %d: %d bytes held between fetch and sink", total, m)
	}
	// Every Piece is at least one byte, so the piece count obeys the same bound.
	if m := maxHeldPieces.Load(); m > total {
		t.Errorf("budget %d: %d pieces held between fetch and sink", total, m)
	}
	if total > 4096 && outOfOrder == 0 {
		t.Errorf("budget %d: delivery was never out of order; the test tests nothing", total)
	}
	t.Logf("budget %d: max %d bytes / %d pieces held, %d requests delivered out of order",
		total, maxInWindow.Load(), maxHeldPieces.Load(), outOfOrder)
}

func updateMax(m *atomic.Int64, v int64) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}

// BenchmarkReorder measures the window's cost per Piece with Requests arriving shuffled in
// blocks of 64, as -j 64 workers might deliver them.
func BenchmarkReorder(b *testing.B) {
	const block = 64
	n := b.N
	ps := make([]*pipeline.Piece, n)
	for i := range ps {
		ps[i] = &pipeline.Piece{File: testFile, Length: 8192, Seq: uint64(i)}
	}
	rs := make([]*pipeline.Request, n)
	for i := range rs {
		rs[i] = &pipeline.Request{Pieces: ps[i : i+1]}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i += block {
		blk := rs[i:min(i+block, n)]
		rng.Shuffle(len(blk), func(a, c int) { blk[a], blk[c] = blk[c], blk[a] })
	}
	ctx := context.Background()
	in := make(chan *pipeline.Request, block)
	out := make(chan *pipeline.Piece, block)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for _, r := range rs {
			in <- r
		}
		close(in)
	}()
	done := make(chan error, 1)
	go func() {
		err := Run(ctx, in, out)
		close(out)
		done <- err
	}()
	for range out {
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
