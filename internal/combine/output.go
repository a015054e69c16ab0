package combine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Modes of what Combine makes: what PostgreSQL demands of a data directory.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// output is where Combine writes: the data directory and the directory of each linked tablespace.
// Until finish removes the marker, the data directory holds incompleteMarker and no
// global/pg_control, so a directory cut short can neither start nor pass for a finished backup.
type output struct {
	root   string
	linked map[string]string // tablespace OID -> its absolute output directory
	fsync  bool

	made    []string // directories Combine created: removed whole on failure
	emptied []string // directories that were there, empty: emptied again on failure
	dirs    []string // every directory written into, fsynced at the end
}

// newOutput checks that out and every tablespace directory may be written: each absent or empty,
// none inside another or inside a backup of the chain (nor a backup inside it). It writes nothing.
func newOutput(out string, linked map[string]string, chain []*backup, fsync bool) (*output, error) {
	o := &output{linked: map[string]string{}, fsync: fsync}
	var err error
	if o.root, err = filepath.Abs(out); err != nil {
		return nil, err
	}
	places := map[string]string{o.root: "the output directory"}
	for oid, dir := range linked {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		o.linked[oid] = abs
		places[abs] = "tablespace " + oid + "'s output directory"
	}
	var inputs []string
	for _, b := range chain {
		inputs = append(inputs, inputRoots(b.dir)...)
	}
	for _, dir := range slices.Sorted(maps.Keys(places)) { // sorted: the same error every time
		if err := checkPlace(dir, places[dir], places, inputs); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// checkPlace refuses an output directory that holds anything or overlaps another place.
func checkPlace(dir, what string, places map[string]string, inputs []string) error {
	for _, in := range inputs {
		if within(dir, in) || within(in, dir) {
			return fmt.Errorf("%s %s overlaps the backup (or tablespace) %s", what, dir, in)
		}
	}
	for _, other := range slices.Sorted(maps.Keys(places)) {
		if other != dir && (within(dir, other) || within(other, dir)) {
			return fmt.Errorf("%s %s overlaps %s %s", what, dir, places[other], other)
		}
	}
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != io.EOF {
		if err == nil {
			return fmt.Errorf("%s %s exists and is not empty", what, dir)
		}
		return fmt.Errorf("%s %s: %w", what, dir, err)
	}
	return nil
}

// inputRoots are a backup's directory and the directories its tablespace links lead to.
func inputRoots(dir string) []string {
	roots := []string{dir}
	if abs, err := filepath.Abs(dir); err == nil {
		roots[0] = abs
	}
	links, _ := os.ReadDir(filepath.Join(dir, "pg_tblspc"))
	for _, l := range links {
		if target, err := filepath.EvalSymlinks(filepath.Join(dir, "pg_tblspc", l.Name())); err == nil {
			roots = append(roots, target)
		}
	}
	return roots
}

// within reports whether path is dir or inside it; both are clean and absolute.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsLocal(rel) || rel == "."
}

// create makes the data directory and the tablespace directories and marks the data directory
// unfinished, durably, before anything else is written.
func (o *output) create(began time.Time) error {
	for _, dir := range append([]string{o.root}, sortedValues(o.linked)...) {
		if err := o.mkdirTop(dir); err != nil {
			return err
		}
	}
	text := "This directory is an unfinished output of `pgpull combine` (started " + began.UTC().Format(time.RFC3339) + ").\n" +
		"It has no global/pg_control and cannot start as a cluster. Remove it and run the combine again.\n"
	return o.writeFile(filepath.Join(o.root, incompleteMarker), []byte(text))
}

// mkdirTop makes one of the output's top directories, remembering how to undo it.
func (o *output) mkdirTop(dir string) error {
	err := os.Mkdir(dir, dirMode)
	switch {
	case err == nil:
		o.made = append(o.made, dir)
		o.dirs = append(o.dirs, dir, filepath.Dir(dir))
		return nil
	case errors.Is(err, fs.ErrExist):
		o.emptied = append(o.emptied, dir) // checked empty by newOutput
		o.dirs = append(o.dirs, dir)
		return nil
	}
	return err
}

// path is where rel (a path in the data directory) goes: under a linked tablespace's output
// directory, or under the data directory.
func (o *output) path(rel string) string {
	if rest, ok := strings.CutPrefix(rel, "pg_tblspc/"); ok {
		oid, inside, _ := strings.Cut(rest, "/")
		if target, linked := o.linked[oid]; linked && inside != "" {
			return filepath.Join(target, filepath.FromSlash(inside))
		}
	}
	return filepath.Join(o.root, filepath.FromSlash(rel))
}

// mkdir makes a directory inside the output.
func (o *output) mkdir(name string) error {
	if err := os.Mkdir(name, dirMode); err != nil {
		return err
	}
	o.dirs = append(o.dirs, name)
	return nil
}

// writeFile writes a small file in one go, durable when fsync is on.
func (o *output) writeFile(name string, body []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	_, err = f.Write(body)
	return o.close(f, err)
}

// close fsyncs (when on) and closes a file written, keeping the first error.
func (o *output) close(f *os.File, err error) error {
	if err == nil && o.fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDirs makes every directory entry written so far durable.
func (o *output) syncDirs() error {
	if !o.fsync {
		return nil
	}
	for _, dir := range slices.Compact(slices.Sorted(slices.Values(o.dirs))) {
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		if err := o.close(d, nil); err != nil {
			return fmt.Errorf("fsync %s: %w", dir, err)
		}
	}
	return nil
}

// finish removes the marker, last: from here on the directory is a finished backup.
func (o *output) finish() error {
	if err := o.syncDirs(); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(o.root, incompleteMarker)); err != nil {
		return err
	}
	o.dirs = []string{o.root}
	return o.syncDirs()
}

// rollback removes what Combine wrote: the directories it made, and the contents of those that
// were there empty.
func (o *output) rollback() error {
	var errs []error
	for _, dir := range o.made {
		errs = append(errs, os.RemoveAll(dir))
	}
	for _, dir := range o.emptied {
		des, err := os.ReadDir(dir)
		errs = append(errs, err)
		for _, de := range des {
			errs = append(errs, os.RemoveAll(filepath.Join(dir, de.Name())))
		}
	}
	return errors.Join(errs...)
}

func sortedValues(m map[string]string) []string {
	return slices.Sorted(maps.Values(m))
}
