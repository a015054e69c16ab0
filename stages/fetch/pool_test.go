package fetch

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgpull/pgpull/pipeline"
)

// closeSignal is a connection that reports its Close.
type closeSignal struct {
	Conn
	closed chan<- struct{}
}

func (c closeSignal) Close(ctx context.Context) error {
	// Signal once closed, so that a test woken by it sees the fake server's count include it.
	err := c.Conn.Close(ctx)
	c.closed <- struct{}{}
	return err
}

// TestPoolDropsBack runs -j auto's pool where no window fetches anything, so that the step from 2
// workers to 4 raises nothing: the pool must go back to 2, say why, and have the added workers
// close their connections while the backup goes on.
func TestPoolDropsBack(t *testing.T) {
	s := newFakeServer(nil)
	closed := make(chan struct{}, 16)
	decided := make(chan Step, 16)
	var received atomic.Int64 // stays 0: nothing is fetched in any window
	p := &Pool{
		Jobs: 2,
		New: func() *Worker {
			return &Worker{Connect: func(ctx context.Context) (Conn, error) {
				c, err := s.connect(ctx)
				return closeSignal{c, closed}, err
			}, Log: t.Logf}
		},
		Log:      t.Logf,
		Auto:     &AutoJobs{Start: 2, Max: 16, Margin: 0.1, Linear: 0.8, Spare: 3},
		Window:   10 * time.Millisecond,
		Received: &received,
		Free:     100,
		FreeOn:   func(context.Context, Conn) (int, error) { return 100, nil },
		Decided:  func(s Step) { decided <- s },
	}
	in, out := make(chan *pipeline.Request), make(chan *pipeline.Request)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background(), in, out) }()

	var steps []Step
	for len(steps) == 0 || !steps[len(steps)-1].Settled {
		steps = append(steps, <-decided)
	}
	last := steps[len(steps)-1]
	if len(steps) != 3 || steps[1].Jobs != 4 || last.Jobs != 2 || !strings.HasSuffix(last.Why, "so back to 2") {
		t.Errorf("decisions %+v; want the start at 2, a step to 4, then back to 2", steps)
	}
	<-closed // the withdrawn workers' connections, while in is still open
	<-closed
	if opened, closedN := s.counts(); opened != 2 || closedN != 2 {
		t.Errorf("connections opened %d, closed %d before the data ended; want the two added ones opened and closed", opened, closedN)
	}
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := p.Choice(); got != last {
		t.Errorf("Choice() = %+v; want the last decision %+v", got, last)
	}
}
