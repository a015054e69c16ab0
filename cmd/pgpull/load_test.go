package main

import (
	"context"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// loadPgbench fills c with pgbench tables at scale and starts a load on them.
func loadPgbench(t *testing.T, c *testcluster.Cluster, scale string) *testLoad {
	t.Helper()
	if out, err := c.Pgbench(context.Background(), "-i", "-q", "-s", scale).CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	return startLoad(t, c)
}

// testLoad is a testcluster.Load that fails its test unless it ran: every pgbench run exit 0, and
// transactions processed.
type testLoad struct {
	*testcluster.Load
	checked bool
}

// startLoad starts 4 pgbench clients on c's pgbench tables, returning once they have committed
// a transaction; the load is stopped and checked at the latest when the test ends.
func startLoad(t *testing.T, c *testcluster.Cluster) *testLoad {
	t.Helper()
	l, err := c.StartLoad(context.Background(), 4)
	if err != nil {
		t.Fatal(err)
	}
	tl := &testLoad{Load: l}
	t.Cleanup(func() { tl.stop(t) })
	return tl
}

// stop ends the load and fails t unless it ran.
func (l *testLoad) stop(t *testing.T) {
	t.Helper()
	if l.checked {
		return
	}
	l.checked = true
	n, err := l.Stop()
	if err != nil {
		t.Errorf("the load did not run as it should: %v", err)
		return
	}
	t.Logf("pgbench: %d runs of a second, each exit 0, %d transactions", l.Runs(), n)
}
