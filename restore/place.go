package restore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
)

// Modes of what restore writes: what PostgreSQL asks of a data directory and its tablespaces.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// place is a directory tree restore writes into, the data directory or a tablespace's target,
// reached only through an os.Root so that no name leads outside it. It remembers whether it made
// the directory, so that a failed restore takes back exactly what it wrote.
type place struct {
	path     string // absolute
	root     *os.Root
	owner    *Owner
	madeTop  string // the topmost directory made to create path; "" when path was there
	wasEmpty bool   // path was there, empty: a rollback empties it again

	mu      sync.Mutex
	dirs    map[string]bool // directories known to exist, by slash path ("." is the place)
	written map[string]bool // entries this restore wrote or kept, by slash path
}

// openPlace makes path (0700, with any missing parents, each given to owner) unless it exists,
// and opens it. The caller has checked that it may be written into.
func openPlace(p string, owner *Owner) (*place, error) {
	pl := &place{path: p, owner: owner, dirs: map[string]bool{".": true}, written: map[string]bool{}}
	fi, err := os.Stat(p)
	switch {
	case err == nil && !fi.IsDir():
		return nil, fmt.Errorf("%s exists and is not a directory", p)
	case err == nil:
		if pl.wasEmpty, err = isEmpty(p); err != nil {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist):
		if pl.madeTop, err = mkdirTop(p, owner); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if pl.root, err = os.OpenRoot(p); err != nil {
		pl.rollback()
		return nil, err
	}
	return pl, nil
}

// mkdirTop makes dir and its missing parents, each 0700 and given to owner, and returns the
// topmost one it made.
func mkdirTop(dir string, owner *Owner) (string, error) {
	var missing []string
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], dirMode); err != nil {
			os.RemoveAll(missing[len(missing)-1])
			return "", err
		}
		if err := owner.chown(missing[i]); err != nil {
			os.RemoveAll(missing[len(missing)-1])
			return "", err
		}
	}
	if len(missing) == 0 {
		return "", nil
	}
	return missing[len(missing)-1], nil
}

// full is name as the user knows it, for messages.
func (pl *place) full(name string) string { return filepath.Join(pl.path, filepath.FromSlash(name)) }

// mark records that this restore wrote (or kept) name.
func (pl *place) mark(name string) {
	pl.mu.Lock()
	pl.written[name] = true
	pl.mu.Unlock()
}

// mkdirAll makes directory name (slash path) and its parents, each marked as written.
func (pl *place) mkdirAll(name string) error {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.mkdirLocked(name)
}

func (pl *place) mkdirLocked(name string) error {
	if pl.dirs[name] {
		return nil
	}
	if err := pl.mkdirLocked(path.Dir(name)); err != nil {
		return err
	}
	pl.written[name] = true
	local := filepath.FromSlash(name)
	fi, err := pl.root.Lstat(local)
	switch {
	case err == nil && fi.IsDir():
	case err == nil:
		// A delta restore finds a file or link where the backup has a directory.
		if err := pl.root.RemoveAll(local); err != nil {
			return err
		}
		fallthrough
	case errors.Is(err, fs.ErrNotExist):
		if err := pl.root.Mkdir(local, dirMode); err != nil {
			return err
		}
		if err := pl.owner.chownIn(pl.root, local); err != nil {
			return err
		}
	default:
		return err
	}
	pl.dirs[name] = true
	return nil
}

// create makes the regular file name, which must not exist, in a directory made if need be.
func (pl *place) create(name string) (*os.File, error) {
	if err := pl.mkdirAll(path.Dir(name)); err != nil {
		return nil, err
	}
	pl.mark(name)
	f, err := pl.root.OpenFile(filepath.FromSlash(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, err
	}
	if err := pl.owner.chownFile(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// rollback removes what this restore wrote: the directory with the parents made for it, or,
// when it was there empty, what it now holds. A directory that held anything is left alone.
func (pl *place) rollback() error {
	if pl.root != nil {
		pl.root.Close()
	}
	if pl.madeTop != "" {
		return os.RemoveAll(pl.madeTop)
	}
	if !pl.wasEmpty {
		return nil
	}
	entries, err := os.ReadDir(pl.path)
	errs := []error{err}
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(pl.path, e.Name())))
	}
	return errors.Join(errs...)
}

// isEmpty reports whether directory dir holds nothing.
func isEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}
