package testcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Adopt takes a restored data directory (a backup pgpull wrote, extracted)
// and makes it startable next to its still-running source: it drops any
// stale postmaster.pid/postmaster.opts (a live source postmaster with the
// same PID would make the server refuse to start), fixes modes (0700 dirs,
// 0600 files) and ownership (the postgres user when root, including
// tablespace targets linked from pg_tblspc), and gives it a new free port and
// a new short socket directory. The backup's postgresql.conf still names the
// source's port and socket directory; Start overrides them on the postgres
// command line, so the restored files stay as pgpull wrote them apart from
// ownership and modes. It does not start the server.
func Adopt(ctx context.Context, dataDir string) (*Cluster, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err != nil {
		return nil, fmt.Errorf("adopt %s: not a PostgreSQL data directory: %w", dataDir, err)
	}
	c, err := newCluster(dataDir)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Cluster, error) {
		os.RemoveAll(c.SocketDir)
		return nil, fmt.Errorf("adopt %s: %w", c.DataDir, err)
	}
	for _, name := range []string{"postmaster.pid", "postmaster.opts"} {
		if err := os.Remove(filepath.Join(c.DataDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail(err)
		}
	}
	if err := c.fixTree(c.DataDir); err != nil {
		return fail(err)
	}
	links, err := os.ReadDir(filepath.Join(c.DataDir, "pg_tblspc"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	for _, l := range links {
		target, err := filepath.EvalSymlinks(filepath.Join(c.DataDir, "pg_tblspc", l.Name()))
		if err != nil {
			return fail(fmt.Errorf("tablespace %s: %w", l.Name(), err))
		}
		if err := c.fixTree(target); err != nil {
			return fail(err)
		}
		if err := c.makeReachable(filepath.Dir(target)); err != nil {
			return fail(err)
		}
	}
	return c, nil
}

// fixTree sets the modes PostgreSQL demands (it refuses a data directory
// that is group/world accessible) and hands the tree to the server user.
func (c *Cluster) fixTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			// Leave links alone: chmod would follow them.
		case d.IsDir():
			if err := os.Chmod(path, 0o700); err != nil {
				return err
			}
		default:
			if err := os.Chmod(path, 0o600); err != nil {
				return err
			}
		}
		if c.owner != nil {
			return os.Lchown(path, c.owner.uid, c.owner.gid)
		}
		return nil
	})
}

// chown hands path to the server user when we are root.
func (c *Cluster) chown(path string) error {
	if c.owner == nil {
		return nil
	}
	return os.Chown(path, c.owner.uid, c.owner.gid)
}

// makeReachable lets the server user traverse every ancestor of dir. Test
// temp dirs are 0700 and root-owned, which the postgres user cannot pass
// through; adding only the search (x) bit for others lets it reach its own
// directories without letting it list anything.
func (c *Cluster) makeReachable(dir string) error {
	if c.owner == nil {
		return nil
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if !reachableBy(fi, c.owner) {
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("make %s reachable by %s: %w", d, c.owner.name, err)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// reachableBy approximates the kernel's search-permission check; supplementary
// groups are ignored, which at worst adds an unneeded o+x bit.
func reachableBy(fi fs.FileInfo, u *osUser) bool {
	perm := fi.Mode().Perm()
	if perm&0o001 != 0 {
		return true
	}
	uid, gid, ok := fileOwner(fi)
	if !ok {
		return false
	}
	return (uid == u.uid && perm&0o100 != 0) || (gid == u.gid && perm&0o010 != 0)
}

// MkdirForServer makes a directory the server can own, such as a tablespace location.
func (c *Cluster) MkdirForServer(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := c.makeReachable(filepath.Dir(dir)); err != nil {
		return err
	}
	return c.chown(dir)
}
