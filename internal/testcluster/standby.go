package testcluster

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// MakeStandby makes a streaming replica of c in dir from a cold copy: c is stopped cleanly, its
// data directory copied, and started again; the copy gets standby.signal and a primary_conninfo
// pointing at c. pg_basebackup would do it live, but only one of the server's major version,
// which the npm builds of other majors do not ship. c must have no user tablespaces (a copied
// pg_tblspc link would share the primary's directory). The replica is not started.
func (c *Cluster) MakeStandby(ctx context.Context, dir string) (*Cluster, error) {
	if err := c.Stop(ctx); err != nil {
		return nil, err
	}
	copyErr := copyDataDir(c.DataDir, dir)
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	if copyErr != nil {
		return nil, fmt.Errorf("copy %s to %s: %w", c.DataDir, dir, copyErr)
	}
	conf := fmt.Sprintf("primary_conninfo = 'host=%s port=%d user=postgres application_name=standby'\n", c.SocketDir, c.Port)
	if err := appendFile(filepath.Join(dir, "postgresql.auto.conf"), conf); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "standby.signal"), nil, 0o600); err != nil {
		return nil, err
	}
	return Adopt(ctx, dir)
}

// copyDataDir copies a stopped cluster's directories and regular files; Adopt sets modes and
// owner afterwards. A symlink (a tablespace) is refused rather than shared.
func copyDataDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o700)
		case d.Type().IsRegular():
			return copyFile(path, to)
		default:
			return fmt.Errorf("%s is not a regular file or directory", path)
		}
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// streamPoll is how often WaitStreaming looks at pg_stat_replication.
const streamPoll = 100 * time.Millisecond

// WaitStreaming waits until a standby streams from c, or ctx ends.
func (c *Cluster) WaitStreaming(ctx context.Context) error {
	tick := time.NewTicker(streamPoll)
	defer tick.Stop()
	for {
		n, err := c.QueryInt(ctx, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'`)
		if err == nil && n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no standby streams from %s (last error %v): %w", c.DataDir, err, ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitCaughtUp waits until standby c has replayed all the WAL primary has written so far, or ctx
// ends (a minute at most).
func (c *Cluster) WaitCaughtUp(ctx context.Context, primary *Cluster) error {
	target, err := primary.QueryString(ctx, `SELECT pg_current_wal_lsn()::text`)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(streamPoll)
	defer tick.Stop()
	for {
		ok, err := c.QueryString(ctx, `SELECT (pg_last_wal_replay_lsn() >= $1::pg_lsn)::text`, target)
		if err == nil && ok == "true" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("standby %s has not replayed up to %s (last error %v): %w", c.DataDir, target, err, ctx.Err())
		case <-tick.C:
		}
	}
}
