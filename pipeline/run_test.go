package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/sourcegraph/conc/pool"
)

// TestGoEachClosesAfterTheLastStage runs in a synctest bubble, so that the check comes once the
// first stage has ended and the second surely waits.
func TestGoEachClosesAfterTheLastStage(t *testing.T) {
	synctest.Test(t, testGoEachClosesAfterTheLastStage)
}

func testGoEachClosesAfterTheLastStage(t *testing.T) {
	g := pool.New().WithContext(context.Background()).WithCancelOnError().WithFirstError()
	out := make(chan int, 10)
	slow := make(chan struct{})
	GoEach(g, out,
		func(context.Context) error { out <- 1; return nil },
		func(context.Context) error { <-slow; out <- 2; return nil },
	)
	synctest.Wait() // the first stage has ended, the second waits on slow
	if v, ok := <-out; !ok || v != 1 {
		t.Fatalf("got %d (open %v) first, want 1 on an open channel", v, ok)
	}
	select {
	case v, ok := <-out:
		t.Fatalf("got %d (open %v) while the second stage still runs, want nothing", v, ok)
	default:
	}
	close(slow)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	var got []int
	for v := range out {
		got = append(got, v)
	}
	if len(got) == 0 || got[len(got)-1] != 2 {
		t.Fatalf("values after close: %v", got)
	}
}

func TestGoAllFirstErrorCancelsTheRest(t *testing.T) {
	g := pool.New().WithContext(context.Background()).WithCancelOnError().WithFirstError()
	out := make(chan int)
	boom := errors.New("boom")
	var calls atomic.Int32
	GoAll(g, out, 3, func(ctx context.Context) error {
		if calls.Add(1) == 1 {
			return boom
		}
		<-ctx.Done() // the others wait until the failure cancels them
		return ctx.Err()
	})
	if err := g.Wait(); !errors.Is(err, boom) {
		t.Fatalf("Wait = %v, want boom", err)
	}
	if _, ok := <-out; ok {
		t.Fatal("output not closed")
	}
}
