package sinks

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// area is one directory tree a sink writes into: a data directory, a tablespace's target, the
// directory of TarFiles' archives. Every access goes through an os.Root, so no name can lead
// outside it, and the area remembers what it made so that Abort takes back exactly that.
type area struct {
	path    string
	root    *os.Root
	dirMode os.FileMode
	// madeTop is the topmost directory created to make path, "" when path already existed.
	madeTop string
	// dirs holds the directories known to exist, by slash path relative to the area ("." is the
	// area itself); the value is whether we made it.
	dirs map[string]bool
	// undo lists, in order of creation, the entries we made inside directories we did not make.
	// Anything else we made is inside one of these, or inside madeTop.
	undo []string
	// changed holds the directories whose entries we added, to fsync at the end.
	changed map[string]bool
	// kept holds every entry this run wrote or found in place, by slash path: in a refresh,
	// whatever else is in the area is stale.
	kept map[string]bool
}

// dirState reports whether dir exists and, if it does, whether it is an empty directory.
func dirState(dir string) (exists, empty bool, err error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, true, nil
	}
	if err != nil {
		return false, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return true, false, err
	}
	if !fi.IsDir() {
		return true, false, fmt.Errorf("%q exists and is not a directory", dir)
	}
	_, err = f.Readdirnames(1)
	if err == io.EOF {
		return true, true, nil
	}
	return true, false, err
}

// openArea makes dir (and any missing parents) with dirMode unless it exists, and opens it. The
// caller has checked that dir may be written into.
func openArea(dir string, dirMode os.FileMode) (*area, error) {
	dir = filepath.Clean(dir)
	madeTop, err := mkdirTop(dir, dirMode)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		if madeTop != "" {
			os.RemoveAll(madeTop)
		}
		return nil, err
	}
	return &area{
		path: dir, root: root, dirMode: dirMode, madeTop: madeTop,
		dirs: map[string]bool{".": madeTop != ""}, changed: map[string]bool{}, kept: map[string]bool{},
	}, nil
}

// mkdirTop makes dir with its missing parents and returns the topmost one it made.
func mkdirTop(dir string, mode os.FileMode) (string, error) {
	top := ""
	for p := dir; ; {
		if _, err := os.Lstat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		top = p
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	if top == "" {
		return "", nil
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return "", err
	}
	return top, nil
}

// full is name as the user would know it, for error messages.
func (a *area) full(name string) string { return filepath.Join(a.path, filepath.FromSlash(name)) }

// mkdirAll makes the directory name (slash-separated, relative to the area) and its parents.
func (a *area) mkdirAll(name string) error {
	if _, ok := a.dirs[name]; ok || name == "." {
		return nil
	}
	if err := a.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	a.kept[name] = true
	err := a.root.Mkdir(filepath.FromSlash(name), a.dirMode)
	if err == nil {
		a.made(name, true)
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := a.root.Stat(filepath.FromSlash(name))
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%q exists and is not a directory", a.full(name))
	}
	a.dirs[name] = false
	return nil
}

// create makes the regular file name for writing, making its directory if need be. A file
// already there is an error.
func (a *area) create(name string, mode os.FileMode) (*os.File, error) {
	if err := a.mkdirAll(path.Dir(name)); err != nil {
		return nil, err
	}
	a.kept[name] = true
	f, err := a.root.OpenFile(filepath.FromSlash(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return nil, err
	}
	a.made(name, false)
	return f, nil
}

// symlink makes name a symbolic link to target.
func (a *area) symlink(target, name string) error {
	if err := a.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	a.kept[name] = true
	if err := a.root.Symlink(target, filepath.FromSlash(name)); err != nil {
		return err
	}
	a.made(name, false)
	return nil
}

// made records an entry we created.
func (a *area) made(name string, dir bool) {
	parent := path.Dir(name)
	a.changed[parent] = true
	if dir {
		a.dirs[name] = true
		a.changed[name] = true
	}
	if !a.dirs[parent] {
		a.undo = append(a.undo, name)
	}
}

// syncDirs fsyncs every directory whose entries we added since the last call, so that the files
// we fsynced can be found after a crash.
func (a *area) syncDirs() error {
	var errs []error
	for name := range a.changed {
		errs = append(errs, syncDir(a.root.Open(filepath.FromSlash(name))))
	}
	if a.madeTop != "" {
		errs = append(errs, syncDir(os.Open(filepath.Dir(a.madeTop))))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	clear(a.changed) // synced: a later call need only sync what changes after this one
	return nil
}

func syncDir(d *os.File, err error) error {
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// rollback removes everything we made, newest first, and closes the area.
func (a *area) rollback() error {
	var errs []error
	for i := len(a.undo) - 1; i >= 0; i-- {
		if err := a.root.RemoveAll(filepath.FromSlash(a.undo[i])); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, a.root.Close())
	if a.madeTop != "" {
		errs = append(errs, os.RemoveAll(a.madeTop))
	}
	return errors.Join(errs...)
}

func (a *area) close() error { return a.root.Close() }

// keep opens the regular file name of a refreshed copy that stays as it is (a Kept file), for
// reading: the sink only dates it and syncs it, since an earlier run may not have.
func (a *area) keep(name string) (*os.File, error) {
	if err := a.mkdirAll(path.Dir(name)); err != nil {
		return nil, err
	}
	a.kept[name] = true
	return a.root.Open(filepath.FromSlash(name))
}

// update opens the regular file name of a refresh for writing in place and gives it size bytes:
// what is there is kept up to that size, so that unchanged ranges need not be written. An entry
// of another kind in its place is removed first.
func (a *area) update(name string, mode os.FileMode, size int64) (*os.File, error) {
	if err := a.mkdirAll(path.Dir(name)); err != nil {
		return nil, err
	}
	a.kept[name] = true
	osName := filepath.FromSlash(name)
	if fi, err := a.root.Lstat(osName); err == nil && !fi.Mode().IsRegular() {
		if err := a.root.RemoveAll(osName); err != nil {
			return nil, err
		}
	}
	f, err := a.root.OpenFile(osName, os.O_RDWR|os.O_CREATE, mode)
	if err != nil {
		return nil, err
	}
	a.changed[path.Dir(name)] = true
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
