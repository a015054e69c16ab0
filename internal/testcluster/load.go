package testcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Load is pgbench clients writing to a cluster in the background, in runs of a second, until
// stopped. A run that ends by itself reports its exit status and its transactions, which a
// pgbench killed mid-run would not: so a test "under load" can show that the load ran.
type Load struct {
	quit chan struct{}
	done chan struct{}
	once sync.Once

	runs, transactions int64
	failed             error // the first run that did not exit 0 having processed transactions
	result             error
}

var pgbenchProcessed = regexp.MustCompile(`number of transactions actually processed: (\d+)`)

// StartLoad starts clients pgbench clients on c's pgbench tables (made by pgbench -i) and
// returns once they have committed a transaction, so that what follows runs under load.
func (c *Cluster) StartLoad(ctx context.Context, clients int) (*Load, error) {
	before, err := c.QueryInt(ctx, `SELECT count(*) FROM pgbench_history`)
	if err != nil {
		return nil, err
	}
	l := &Load{quit: make(chan struct{}), done: make(chan struct{})}
	go l.run(c, clients)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		n, err := c.QueryInt(ctx, `SELECT count(*) FROM pgbench_history`)
		if err == nil && n > before {
			return l, nil
		}
		select {
		case <-l.done:
			return nil, fmt.Errorf("pgbench ended before committing anything: %w", l.failed)
		default:
		}
		if err != nil || time.Now().After(deadline) {
			_, serr := l.Stop()
			return nil, errors.Join(fmt.Errorf("pgbench committed nothing in a minute (%v)", err), serr)
		}
	}
}

func (l *Load) run(c *Cluster, clients int) {
	defer close(l.done)
	for {
		select {
		case <-l.quit:
			return
		default:
		}
		var out bytes.Buffer
		cmd := c.Pgbench(context.Background(), "-c", strconv.Itoa(clients), "-j", "2", "-n", "-T", "1")
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		l.runs++
		var n int64
		if m := pgbenchProcessed.FindSubmatch(out.Bytes()); m != nil {
			n, _ = strconv.ParseInt(string(m[1]), 10, 64)
		}
		l.transactions += n
		if err != nil || n == 0 {
			l.failed = fmt.Errorf("pgbench run %d: %v, %d transactions:\n%s", l.runs, err, n, out.String())
			return
		}
	}
}

// Stop ends the load after the run in progress and returns the transactions it processed, with
// an error unless every run exited 0 having processed some. Later calls return the same.
func (l *Load) Stop() (int64, error) {
	l.once.Do(func() {
		close(l.quit)
		<-l.done
		switch {
		case l.failed != nil:
			l.result = l.failed
		case l.transactions == 0:
			l.result = errors.New("pgbench processed no transaction")
		}
	})
	return l.transactions, l.result
}

// Runs is how many pgbench runs of a second the load made.
func (l *Load) Runs() int64 { return l.runs }
