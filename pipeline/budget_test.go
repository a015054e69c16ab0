package pipeline

import (
	"context"
	"testing"
	"testing/synctest"
)

// request makes a Request of Pieces of the given lengths.
func request(lengths ...int64) *Request {
	r := &Request{}
	for _, n := range lengths {
		r.Pieces = append(r.Pieces, &Piece{Length: n})
	}
	return r
}

// admitAsync admits r on its own goroutine and reports on the returned channel when it got in.
func admitAsync(b *Budget, r *Request) <-chan error {
	done := make(chan error, 1)
	go func() { done <- b.Admit(context.Background(), r) }()
	return done
}

// admitted says whether the admission behind done has finished, once every goroutine of the
// bubble is blocked: a still-waiting Admit is then waiting on the budget, not on the scheduler.
func admitted(t *testing.T, done <-chan error) bool {
	t.Helper()
	synctest.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		return true
	default:
		return false
	}
}

// TestBudgetBound: what users rely on from the one place memory is bounded. Bytes in flight never
// pass what is granted, a Piece larger than the grant is charged the whole grant, Grow raises the
// grant only up to the bound, and Done gives bytes back.
func TestBudgetBound(t *testing.T) {
	tests := []struct {
		name           string
		initial, total int64
		first, second  []int64 // Piece lengths of two Requests admitted in turn
		secondWaits    bool    // the second must wait until the first is Done
		grow           int64   // granted before the second is admitted
		wantGranted    int64
		wantPeak       int64
	}{
		{"both fit", 100, 100, []int64{40}, []int64{60}, false, 0, 100, 100},
		{"second waits", 100, 100, []int64{60}, []int64{60}, true, 0, 100, 60},
		{"oversized piece takes the whole grant", 100, 100, []int64{500}, []int64{1}, true, 0, 100, 100},
		{"held back until grown", 50, 100, []int64{40}, []int64{40}, true, 0, 50, 40},
		{"grown lets it in", 50, 100, []int64{40}, []int64{40}, false, 30, 80, 80},
		{"growth stops at the bound", 50, 100, []int64{40}, []int64{70}, true, 1000, 100, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := NewGrowingBudget(tt.initial, tt.total, 0)
				first := request(tt.first...)
				if !admitted(t, admitAsync(b, first)) {
					t.Fatal("the first Request waits on an empty budget")
				}
				b.Grow(tt.grow)
				if b.Granted() != tt.wantGranted {
					t.Errorf("granted %d, want %d", b.Granted(), tt.wantGranted)
				}
				second := admitAsync(b, request(tt.second...))
				if got := !admitted(t, second); got != tt.secondWaits {
					t.Fatalf("second Request waits: %v, want %v", got, tt.secondWaits)
				}
				if b.Peak() != tt.wantPeak || b.Peak() > b.Granted() {
					t.Errorf("peak %d (granted %d), want %d and at most granted", b.Peak(), b.Granted(), tt.wantPeak)
				}
				for _, p := range first.Pieces {
					p.Done()
				}
				if tt.secondWaits && !admitted(t, second) {
					t.Error("the second Request still waits after the first gave its bytes back")
				}
			})
		})
	}
}

// TestBudgetDrain: Drain returns only when every admitted byte is given back, and counts the
// bytes granted by Grow too.
func TestBudgetDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewGrowingBudget(50, 100, 0)
		b.Grow(20)
		r := request(30, 30)
		if err := b.Admit(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		drained := make(chan error, 1)
		go func() { drained <- b.Drain(context.Background()) }()
		for i, p := range r.Pieces {
			synctest.Wait()
			select {
			case <-drained:
				t.Fatalf("Drain returned with %d of 60 bytes still admitted", 60-30*i)
			default:
			}
			p.Done()
		}
		synctest.Wait()
		select {
		case err := <-drained:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("Drain still waits after every byte was given back")
		}
	})
}
