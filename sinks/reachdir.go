package sinks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"syscall"
)

// reachDirectory checks, before the backup starts on the server, that a directory DEST can be
// written: absent below a directory this user may write into, or a directory this user may write
// into that is empty, or that -f may replace or --refresh complete. Each error names the full
// path. Nothing is left behind: the probe directory that proves writing works is removed.
func (d *Destination) reachDirectory() error {
	abs, err := filepath.Abs(d.Location)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		return fmt.Errorf("destination %s exists and is not a directory: give a directory, or - for a stream", abs)
	}
	exists, empty, err := dirState(abs)
	if errors.Is(err, syscall.ENOTDIR) {
		exists, err = false, nil // a parent is a file: nearestExisting names it
	}
	if err != nil {
		return fmt.Errorf("destination %s: %w", abs, pathCause(err))
	}
	switch {
	case exists && !empty && d.Refresh:
		if err := checkRefreshable(abs, 0); err != nil { // the cluster's identity waits for the server
			return err
		}
	case exists && !empty:
		if _, err := checkDestination(abs, d.Force); err != nil {
			return err
		}
	}
	if exists {
		return probeWritable(abs, abs)
	}
	parent, err := nearestExisting(abs)
	if err != nil {
		return err
	}
	return probeWritable(parent, abs)
}

// nearestExisting is the closest ancestor of path that exists, which must be a directory for
// path to be made.
func nearestExisting(path string) (string, error) {
	for p := filepath.Dir(path); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			return p, nil
		case err == nil:
			return "", fmt.Errorf("cannot create destination %s: %s is not a directory", path, p)
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("cannot create destination %s: %w", path, pathCause(err))
		case p == filepath.Dir(p):
			return "", fmt.Errorf("cannot create destination %s: no part of its path exists", path)
		}
	}
}

// probeWritable makes and removes a directory in dir, which proves that dest (dir itself, or a
// path to be made below it) can be written as this user, on this file system, now: permission
// bits, ACLs, a read-only mount and a full inode table all show here.
func probeWritable(dir, dest string) error {
	probe, err := os.MkdirTemp(dir, ".pgpull-probe-")
	if err != nil {
		what := "cannot write into destination " + dest
		if dir != dest {
			what = fmt.Sprintf("cannot create destination %s: cannot write into %s", dest, dir)
		}
		cause := pathCause(err)
		if errors.Is(cause, syscall.EACCES) || errors.Is(cause, syscall.EPERM) || errors.Is(cause, syscall.EROFS) {
			return fmt.Errorf("%s (%v); choose another DEST, or give user %s write access there", what, cause, currentUser())
		}
		return fmt.Errorf("%s: %v", what, cause)
	}
	return os.Remove(probe)
}

// pathCause is the system's reason inside a path error, whose path the caller names itself.
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// currentUser names the user pgpull runs as, for advice on permissions.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprint(os.Getuid())
}
