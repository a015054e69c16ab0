package fetch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

	"github.com/pgpull/pgpull/pipeline"
)

// Pool is the fetch stage: Jobs workers, each on its own connection, and with Auto set a
// controller that adds workers while they run, for as long as the throughput rises.
type Pool struct {
	Jobs int            // workers at the start
	New  func() *Worker // makes one more worker
	Log  func(format string, args ...any)

	// Auto, when set, grows the pool from Jobs workers by its rule.
	Auto *AutoJobs
	// Window is how long each count of workers is measured, after a settling time of half of it.
	Window time.Duration
	// Received counts the bytes the server has sent to all workers (the Workers' Received): the
	// throughput is read from it.
	Received *atomic.Int64
	// Free is how many connections the server can still accept at the start, before the first
	// workers connect; each added worker asks again on its own connection with FreeOn.
	Free   int
	FreeOn func(ctx context.Context, conn Conn) (int, error)
	// Grown learns each new count, before its workers take any Request: the budget grows with it.
	// A drop back does not shrink it: what was granted stays within the bound, and the buffers are
	// already made.
	Grown func(jobs int)
	// Decided, when set, learns each decision -j auto takes, as it takes it (for the progress events).
	Decided func(Step)

	mu     sync.Mutex
	choice Step // the last decision -j auto took
}

// Choice is the number of workers -j auto settled on, or had reached when the data ended, and why.
func (p *Pool) Choice() Step {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.choice
}

// Run fetches the Requests from in and sends them to out, until in closes.
func (p *Pool) Run(ctx context.Context, in <-chan *pipeline.Request, out chan<- *pipeline.Request) error {
	g, ctx := errgroup.WithContext(ctx)
	drained := make(chan struct{}) // closed when the first worker finds in closed
	var once sync.Once
	start := func(w *Worker) {
		g.Go(func() error {
			err := w.Run(ctx, in, out)
			if err == nil && !w.withdrawn() {
				once.Do(func() { close(drained) })
			}
			return err
		})
	}
	for range p.Jobs {
		start(p.New())
	}
	if p.Auto != nil {
		p.decide(Step{Jobs: p.Jobs, Why: "the data ended before a full window"})
		// The controller is one of the group, so Wait cannot return while it may still add.
		g.Go(func() error { return p.control(ctx, drained, start) })
	}
	return g.Wait()
}

func (p *Pool) decide(s Step) {
	p.mu.Lock()
	p.choice = s
	p.mu.Unlock()
	if p.Decided != nil {
		p.Decided(s)
	}
}

// control measures each count of workers over a window, adds workers while Auto says to, and
// withdraws the last ones added when Auto says to go back.
func (p *Pool) control(ctx context.Context, drained <-chan struct{}, start func(*Worker)) error {
	wait := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-drained:
		case <-ctx.Done():
		}
		return false
	}
	jobs, prevJobs, prevRate, free := p.Jobs, 0, 0.0, p.Free-p.Jobs
	var added []*Worker // the workers the last increase started, newest last
	for {
		if !wait(p.Window / 2) {
			return nil
		}
		from, began := p.Received.Load(), time.Now()
		if !wait(p.Window) {
			return nil
		}
		rate := float64(p.Received.Load()-from) / time.Since(began).Seconds()
		step := p.Auto.Next(jobs, rate, prevJobs, prevRate, free)
		if step.Jobs < jobs {
			// Each withdrawn worker finishes the Request it holds and closes its connection.
			for _, w := range added[len(added)-(jobs-step.Jobs):] {
				w.withdraw()
			}
		}
		added = added[:0]
		for jobs+len(added) < step.Jobs {
			w, left, err := p.connect(ctx)
			if err != nil {
				step = Step{Jobs: jobs + len(added), Settled: true, Why: fmt.Sprintf("%d jobs: %v", jobs+len(added), err)}
				break
			}
			free = left
			added = append(added, w)
			start(w)
		}
		if len(added) > 0 && p.Grown != nil {
			p.Grown(jobs + len(added))
		}
		p.decide(step)
		if step.Settled {
			p.Log("-j auto: settled at %s", step.Why)
			return nil
		}
		p.Log("-j auto: %s", step.Why)
		prevJobs, prevRate, jobs = jobs, rate, step.Jobs
	}
}

// connect makes a worker and opens its connection, unless that would leave the server fewer than
// Spare free connections; left is how many the server has free with it open. A server refusing the
// connection (too many clients) is no failure of the backup: the pool just stops growing.
func (p *Pool) connect(ctx context.Context) (w *Worker, left int, err error) {
	w = p.New()
	conn, err := w.Connect(ctx)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "53300" { // too_many_connections
			return nil, 0, fmt.Errorf("the server refused another connection: %s", pgErr.Message)
		}
		return nil, 0, fmt.Errorf("opening another connection: %w", err)
	}
	if left, err = p.FreeOn(ctx, conn); err == nil && left < p.Auto.Spare {
		err = fmt.Errorf("the server has %d free connections and %d are left to others", left, p.Auto.Spare)
	}
	if err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, 0, err
	}
	w.conn, w.quit = conn, make(chan struct{})
	return w, left, nil
}
