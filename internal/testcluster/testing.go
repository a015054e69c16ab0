package testcluster

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// setupTimeout bounds initdb and server start; setup uses its own context
// so ForTest works from any testing.TB.
const setupTimeout = 5 * time.Minute

// ForTest makes and starts a scratch cluster, removed at test end. The data
// directory lives under a fresh os.MkdirTemp dir rather than t.TempDir(),
// whose 0700 root-owned parents the postgres user could not enter. When the
// binaries are missing it fails with the install hint instead of skipping,
// so a CI without PostgreSQL cannot pass by testing nothing.
func ForTest(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if _, err := FindBinaries(); err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp(Scratch(), "pgpull-*")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		os.RemoveAll(base)
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	c, err := Init(ctx, filepath.Join(base, "data"), opts)
	if err != nil {
		os.RemoveAll(base)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		removeForTest(t, c)
		if err := os.RemoveAll(base); err != nil {
			t.Errorf("remove %s: %v", base, err)
		}
	})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// AdoptForTest adopts a restored data directory (see Adopt), starts it, and
// stops and removes it (data directory included) at test end.
func AdoptForTest(t testing.TB, dataDir string) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	c, err := Adopt(ctx, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeForTest(t, c) })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// StandbyForTest makes a streaming replica of primary (see MakeStandby), starts it, waits until
// it streams, and removes it at test end.
func StandbyForTest(t testing.TB, primary *Cluster) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	c, err := primary.MakeStandby(ctx, filepath.Join(t.TempDir(), "standby"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeForTest(t, c) })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := primary.WaitStreaming(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// removeForTest logs the server log when the test failed, since the log is
// deleted with the socket directory, then removes the cluster.
func removeForTest(t testing.TB, c *Cluster) {
	if t.Failed() {
		t.Logf("server log tail of %s:\n%s", c.DataDir, c.Log())
	}
	if err := c.Remove(); err != nil {
		t.Errorf("remove cluster: %v", err)
	}
}
