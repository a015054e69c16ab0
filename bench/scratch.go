package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// workDir is a private temporary directory for one bench command: scratch
// clusters, backups and restored copies all live under it, so one RemoveAll
// cleans up everything.
type workDir struct {
	path     string
	clusters []*testcluster.Cluster
}

// newWorkDir makes the directory. It is 0755 rather than MkdirTemp's 0700
// because the postgres OS user (when we are root) must pass through it.
func newWorkDir() (*workDir, error) {
	dir, err := os.MkdirTemp(testcluster.Scratch(), "pgpull-bench-*")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &workDir{path: dir}, nil
}

// newWorkDirWithPgpull makes a work directory and builds pgpull into it, for the scenarios
// that time the current tree's pgpull; the caller closes the directory.
func newWorkDirWithPgpull(ctx context.Context) (*workDir, string, error) {
	w, err := newWorkDir()
	if err != nil {
		return nil, "", err
	}
	bin, err := buildPgpull(ctx, w.path)
	if err != nil {
		w.Close()
		return nil, "", err
	}
	return w, bin, nil
}

// join names a path inside the work directory.
func (w *workDir) join(name ...string) string {
	return filepath.Join(append([]string{w.path}, name...)...)
}

// startCluster initdbs and starts a scratch cluster at name; Close removes it.
func (w *workDir) startCluster(ctx context.Context, name string, opts testcluster.Options) (*testcluster.Cluster, error) {
	return w.start(ctx)(testcluster.Init(ctx, w.join(name), opts))
}

// startPgbench starts the source cluster "src" with pgbench's tables at scale.
func (w *workDir) startPgbench(ctx context.Context, opts testcluster.Options, scale int, stderr io.Writer) (*testcluster.Cluster, error) {
	src, err := w.startCluster(ctx, "src", opts)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "bench: pgbench -i -s %d\n", scale)
	if out, err := src.Pgbench(ctx, "-i", "-q", "-s", strconv.Itoa(scale)).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgbench -i: %v\n%s", err, out)
	}
	return src, nil
}

// adoptCluster starts a restored data directory as a cluster; Close removes it.
func (w *workDir) adoptCluster(ctx context.Context, dataDir string) (*testcluster.Cluster, error) {
	return w.start(ctx)(testcluster.Adopt(ctx, dataDir))
}

// start returns what records a new cluster for Close and starts it.
func (w *workDir) start(ctx context.Context) func(*testcluster.Cluster, error) (*testcluster.Cluster, error) {
	return func(c *testcluster.Cluster, err error) (*testcluster.Cluster, error) {
		if err != nil {
			return nil, err
		}
		w.clusters = append(w.clusters, c)
		if err := c.Start(ctx); err != nil {
			return nil, err
		}
		return c, nil
	}
}

// Close stops and removes every cluster it started, then the directory.
func (w *workDir) Close() error {
	var errs []error
	for i := len(w.clusters) - 1; i >= 0; i-- {
		if err := w.clusters[i].Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(w.path); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleanup of %s: %w", w.path, err)
	}
	return nil
}
