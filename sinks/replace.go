package sinks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// -f replaces an earlier backup in DEST, and nothing else: a directory a server runs from, or
// one started as a cluster since it was restored, holds data no backup has.

// checkDestination checks that dir may be written into: absent, empty, or with force holding an
// earlier backup, which replace then reports.
func checkDestination(dir string, force bool) (replace bool, err error) {
	exists, empty, err := dirState(dir)
	if err != nil {
		return false, fmt.Errorf("destination directory: %w", err)
	}
	if !exists || empty {
		return false, nil
	}
	if !force {
		if _, err := os.Lstat(filepath.Join(dir, IncompleteMarker)); err == nil {
			return false, fmt.Errorf("destination directory %q holds an unfinished backup (%s); complete it with --refresh, replace it with -f, or choose another", dir, IncompleteMarker)
		}
		return false, fmt.Errorf("destination directory %q exists and is not empty; use -f/--force or choose another", dir)
	}
	return true, checkReplaceable(dir)
}

// checkReplaceable returns why dir, which is not empty, may not be replaced with a new backup,
// or nil when it holds an earlier one: plain (PG_VERSION, and backup_label or no pg_control, as
// a run cut short leaves it) or -F tar (base.tar).
func checkReplaceable(dir string) error {
	has := func(name string) bool {
		_, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name)))
		return err == nil
	}
	refuse := func(why string) error {
		return fmt.Errorf("destination directory %q is not empty and %s; -f replaces only an earlier backup: choose another directory", dir, why)
	}
	tars, _ := filepath.Glob(filepath.Join(dir, "base.tar*"))
	switch {
	case has("postmaster.pid"):
		return refuse("a server runs from it (postmaster.pid)")
	case len(tars) > 0 || has(IncompleteMarker):
		return nil
	case !has("PG_VERSION"):
		return refuse("holds no backup (no PG_VERSION, no base.tar)")
	case !has("backup_label") && has(controlPath):
		return refuse("has been started as a cluster (global/pg_control but no backup_label)")
	}
	return nil
}

// clearBackup empties a's directory, an earlier backup, so that no file of it outlives the new
// one. global/pg_control goes first, then backup_label and backup_manifest, each step on disk
// before the next: from the start the directory neither starts as a cluster nor passes for a
// complete backup.
func clearBackup(a *area, fsync bool) error {
	if err := disarm(a, fsync); err != nil {
		return fmt.Errorf("removing the earlier backup: %w", err)
	}
	top, err := a.root.Open(".")
	if err != nil {
		return err
	}
	names, err := top.Readdirnames(-1)
	top.Close()
	if err != nil {
		return fmt.Errorf("removing the earlier backup: %w", err)
	}
	for _, name := range names {
		if err := a.root.RemoveAll(name); err != nil {
			return fmt.Errorf("removing the earlier backup: %w", err)
		}
	}
	if fsync {
		return syncDir(a.root.Open("."))
	}
	return nil
}

// disarm removes what lets a backup directory start or pass for a complete backup:
// global/pg_control, then backup_label, backup_manifest and tablespace_map, each step on disk
// before the next.
func disarm(a *area, fsync bool) error {
	steps := [][]string{{controlPath}, {"backup_label", manifestName, tablespaceMapPath}}
	for _, names := range steps {
		for _, name := range names {
			if err := a.root.Remove(filepath.FromSlash(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if fsync {
			if err := syncDir(a.root.Open(filepath.Dir(filepath.FromSlash(names[0])))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// pendingRemoval is an earlier backup in a sink's directory waiting to be removed: only once the
// backup's bytes flow, so that a run failing before leaves it whole.
type pendingRemoval struct {
	area           *area
	fsync, pending bool
}

// clear removes the earlier backup, the first time it is called.
func (r *pendingRemoval) clear() error {
	if !r.pending {
		return nil
	}
	r.pending = false
	return clearBackup(r.area, r.fsync)
}
