package sinks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pgpull/pgpull/pipeline"
)

// DirOptions configure a Dir sink.
type DirOptions struct {
	// Force allows a data directory that is not empty when it holds an earlier backup, which is
	// removed when the first Piece arrives, global/pg_control first. It never applies to
	// tablespace targets.
	Force bool
	// NoSync skips every fsync.
	NoSync bool
	// Tablespaces maps each tablespace OID to the directory its files go to. Every tablespace in
	// the stream needs one; each must be absent or empty.
	Tablespaces map[string]string
	// DirMode and FileMode are the modes of what Dir creates; 0700 and 0600 when zero.
	DirMode, FileMode os.FileMode
	// Refresh writes into an earlier backup of the cluster whose system identifier is SystemID,
	// or into an unfinished one (see IncompleteMarker), in place: files are updated where the
	// stream says, and what the stream does not hold is removed at Close. Tablespace targets
	// the directory's pg_tblspc links point to may be non-empty.
	Refresh  bool
	SystemID uint64
	// FileClosers is how many finished files are fsynced and closed at once, in the background
	// (backup.Tuning.FileClosers); at least one.
	FileClosers int
}

// Paths with a meaning of their own in a data directory.
const (
	controlPath       = "global/pg_control"
	tablespaceMapPath = "tablespace_map"
	manifestName      = "backup_manifest"
)

// Dir writes the backup as a plain data directory, ready to start, as pg_basebackup -Fp does:
// tablespaces go to their target directories, linked from pg_tblspc/<oid>.
//
// global/pg_control is held back until Close and written after everything else is on disk,
// backup_label and backup_manifest included, so that a directory cut short at any point has no
// pg_control and PostgreSQL refuses to start it. tablespace_map is left out: recovery would re-point the
// pg_tblspc links at the server's own paths, undoing the Tablespaces mapping.
type Dir struct {
	opts   DirOptions
	data   *area
	spaces map[string]*area // tablespace OID -> its target, made on first use
	order  fileOrder
	closer *fileCloser

	cur     *os.File // the file being written
	curArea *area
	curName string

	control     []byte // global/pg_control, written by Close
	controlFile *pipeline.File

	earlier pendingRemoval // an earlier backup to replace (-f)

	began   time.Time
	marked  bool              // IncompleteMarker written
	linked  map[string]string // a refresh's tablespace links found in the directory, by OID
	removed int64             // files a refresh removed as stale

	done bool // closed or aborted
}

// NewDir checks that root and every tablespace target may be written into and makes root.
// root must be absent or an empty directory unless opts.Force is set; tablespace targets must be
// absent or empty, whatever Force says.
func NewDir(root string, opts DirOptions) (*Dir, error) {
	if opts.DirMode == 0 {
		opts.DirMode = 0o700
	}
	if opts.FileMode == 0 {
		opts.FileMode = 0o600
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	linked := map[string]string{}
	replace := false
	if opts.Refresh {
		if err := checkRefreshable(root, opts.SystemID); err != nil {
			return nil, err
		}
		linked = LinkedTablespaces(root)
	} else if replace, err = checkDestination(root, opts.Force); err != nil {
		return nil, err
	}

	targets := make(map[string]string, len(opts.Tablespaces))
	for _, oid := range slices.Sorted(maps.Keys(opts.Tablespaces)) {
		target, err := checkTablespaceTarget(oid, opts.Tablespaces[oid], root, targets, linked)
		if err != nil {
			return nil, err
		}
		targets[oid] = target
	}
	opts.Tablespaces = targets

	data, err := openArea(root, opts.DirMode)
	if err != nil {
		return nil, fmt.Errorf("destination directory: %w", err)
	}
	return &Dir{opts: opts, data: data, spaces: map[string]*area{}, closer: newFileCloser(!opts.NoSync, max(opts.FileClosers, 1)),
		earlier: pendingRemoval{area: data, fsync: !opts.NoSync, pending: replace}, began: time.Now(), linked: linked}, nil
}

// LocalCopy opens the files already in the destination for reading, for a refresh's delta stage.
// The caller closes it.
func (d *Dir) LocalCopy() (*LocalCopy, error) {
	return openLocalCopy(d.data.path, d.opts.Tablespaces)
}

// Removed is how many files a refresh removed because the server no longer has them.
func (d *Dir) Removed() int64 { return d.removed }

// checkTablespaceTarget returns the absolute target of tablespace oid, refusing one that is not
// empty or that overlaps the data directory or another tablespace's target. A refresh may find
// its target non-empty when the directory's link for oid points to it (linked).
func checkTablespaceTarget(oid, target, root string, others, linked map[string]string) (string, error) {
	if target == "" {
		return "", fmt.Errorf("tablespace %s: empty target directory", oid)
	}
	target, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	if within(target, root) || within(root, target) {
		return "", fmt.Errorf("tablespace %s: target %q overlaps the destination directory %q; map it elsewhere with -T OLD=NEW", oid, target, root)
	}
	for other, t := range others {
		if within(target, t) || within(t, target) {
			return "", fmt.Errorf("tablespace %s: target %q overlaps that of tablespace %s; map it elsewhere with -T OLD=NEW", oid, target, other)
		}
	}
	if linked[oid] == target {
		return target, nil
	}
	exists, empty, err := dirState(target)
	if err != nil {
		return "", fmt.Errorf("tablespace %s: %w", oid, err)
	}
	if exists && !empty {
		return "", fmt.Errorf("tablespace %s: directory %q exists and is not empty; map it elsewhere with -T OLD=NEW", oid, target)
	}
	return target, nil
}

// within reports whether path is dir or inside it; both are clean and absolute.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsLocal(rel) || rel == "."
}

// Put writes p into its file, creating the file (or directory, or tablespace link) on the
// File's first Piece and closing it after the last.
func (d *Dir) Put(_ context.Context, p *pipeline.Piece) error {
	defer p.Done()
	if d.done {
		return errors.New("writing the backup directory: put after close or abort")
	}
	if err := d.earlier.clear(); err != nil {
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	if !d.marked {
		if err := markIncomplete(d.data, !d.opts.NoSync, d.began); err != nil {
			return err
		}
		d.marked = true
	}
	action, err := d.order.classify(p)
	if err != nil {
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	f := p.File
	switch action {
	case dropPiece:
		return nil
	case openFile:
		if err := d.open(f); err != nil {
			return fmt.Errorf("writing the backup directory: %w", err)
		}
		if f.Dir || f.Content != nil || d.cur == nil && d.controlFile != f {
			d.order.completed(f)
			return nil
		}
	}
	if f == d.controlFile {
		d.control = append(d.control, p.Data...)
		d.control = append(d.control, make([]byte, p.Length-int64(len(p.Data)))...)
	} else if err := d.write(p); err != nil {
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	if d.order.written(p) && f != d.controlFile {
		if err := d.finish(f); err != nil {
			return fmt.Errorf("writing the backup directory: %w", err)
		}
	}
	return nil
}

// open creates f's entry. For a regular file with bytes to come it leaves d.cur open (or starts
// holding pg_control); anything else is complete when open returns.
func (d *Dir) open(f *pipeline.File) error {
	if err := checkPath(f.Path); err != nil {
		return err
	}
	if f.Tablespace == "" && f.Path == controlPath && !f.Dir {
		// Held back whether it is fetched or made: backup hands over the copy it read
		// after every other file as Content, ahead of backup_label and the last WAL.
		d.controlFile, d.control = f, make([]byte, 0, f.Size)
		d.control = append(d.control, f.Content...)
		return nil
	}
	if f.Tablespace == "" && f.Path == tablespaceMapPath {
		return nil
	}
	a, name, err := d.place(f)
	if err != nil {
		return err
	}
	switch {
	case a == nil: // the tablespace's pg_tblspc/<oid> entry: space made the link
		return nil
	case f.Dir:
		return a.mkdirAll(name)
	}
	var file *os.File
	switch {
	case d.opts.Refresh && f.Kept():
		file, err = a.keep(name)
	case d.opts.Refresh:
		file, err = a.update(name, d.opts.FileMode, f.Size)
	default:
		file, err = a.create(name, d.opts.FileMode)
	}
	if err != nil {
		return err
	}
	d.cur, d.curArea, d.curName = file, a, name
	if f.Content != nil {
		if _, err := file.Write(f.Content); err != nil {
			return err
		}
		return d.finish(f)
	}
	if f.Size == 0 || d.opts.Refresh && f.Kept() {
		return d.finish(f) // nothing to write
	}
	return nil
}

// place finds the area and name f goes to. A nil area means f is the link to a tablespace.
func (d *Dir) place(f *pipeline.File) (*area, string, error) {
	if f.Tablespace == "" {
		// Paths under our own tablespace links must say which tablespace they are in: writing
		// through the link would leave the data directory, which os.Root refuses anyway.
		if rest, ok := strings.CutPrefix(f.Path, "pg_tblspc/"); ok {
			oid, _, _ := strings.Cut(rest, "/")
			if _, linked := d.opts.Tablespaces[oid]; linked {
				return nil, "", fmt.Errorf("%q is under tablespace %s's link but not marked as in that tablespace", f.Path, oid)
			}
		}
		return d.data, f.Path, nil
	}
	link := "pg_tblspc/" + f.Tablespace
	if f.Path == link {
		if !f.Dir {
			return nil, "", fmt.Errorf("%q: a tablespace link must be a directory entry", f.Path)
		}
		_, err := d.space(f.Tablespace)
		return nil, link, err
	}
	name, ok := strings.CutPrefix(f.Path, link+"/")
	if !ok {
		return nil, "", fmt.Errorf("%q is marked as in tablespace %s but is not under %s", f.Path, f.Tablespace, link)
	}
	a, err := d.space(f.Tablespace)
	return a, name, err
}

// space returns tablespace oid's target, making it and the link pg_tblspc/<oid> to it on first
// use, whether that is the link's own entry or a file in the tablespace.
func (d *Dir) space(oid string) (*area, error) {
	if a := d.spaces[oid]; a != nil {
		return a, nil
	}
	target, ok := d.opts.Tablespaces[oid]
	if !ok {
		return nil, fmt.Errorf("tablespace %s has no target directory; give one with -T OLD=NEW", oid)
	}
	// Checked in NewDir, but checked again: never write into a non-empty directory we did not
	// make, unless a refresh's link says an earlier run made it.
	ours := d.linked[oid] == target
	exists, empty, err := dirState(target)
	if err != nil {
		return nil, fmt.Errorf("tablespace %s: %w", oid, err)
	}
	if exists && !empty && !ours {
		return nil, fmt.Errorf("tablespace %s: directory %q exists and is not empty; map it elsewhere with -T OLD=NEW", oid, target)
	}
	a, err := openArea(target, d.opts.DirMode)
	if err != nil {
		return nil, fmt.Errorf("tablespace %s: %w", oid, err)
	}
	d.spaces[oid] = a
	link := "pg_tblspc/" + oid
	if ours {
		d.data.kept[link] = true
		return a, nil
	}
	if d.opts.Refresh {
		// A link to another place, or anything else, where the tablespace's link goes.
		if err := d.data.root.RemoveAll(filepath.FromSlash(link)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tablespace %s: %w", oid, err)
		}
	}
	if err := d.data.symlink(a.path, link); err != nil {
		return nil, fmt.Errorf("tablespace %s: %w", oid, err)
	}
	return a, nil
}

// finish dates the current file and hands it to the closer.
func (d *Dir) finish(f *pipeline.File) error {
	file, a, name := d.cur, d.curArea, d.curName
	d.cur, d.curArea, d.curName = nil, nil, ""
	if !f.ModTime.IsZero() {
		if err := a.root.Chtimes(filepath.FromSlash(name), f.ModTime, f.ModTime); err != nil {
			file.Close()
			return err
		}
	}
	return d.closer.close(file)
}

// write writes p into the open file: in a refresh at its offset, and only what changed.
func (d *Dir) write(p *pipeline.Piece) error {
	if d.opts.Refresh {
		return writeAt(d.cur, p)
	}
	return writePiece(d.cur, p)
}

// Close writes manifest as backup_manifest, makes everything durable, and only then writes
// global/pg_control and makes it durable in turn: until pg_control is on disk the directory
// cannot start, so a crash anywhere before leaves a directory PostgreSQL refuses.
func (d *Dir) Close(_ context.Context, manifest []byte) error {
	if d.done {
		return errors.New("writing the backup directory: close after close or abort")
	}
	if err := d.order.unfinished(); err != nil {
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	if err := d.earlier.clear(); err != nil {
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	if err := d.closer.wait(); err != nil {
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	if d.opts.Refresh {
		for _, a := range d.allAreas() {
			n, err := removeStale(a)
			d.removed += n
			if err != nil {
				return fmt.Errorf("writing the backup directory: %w", err)
			}
		}
	}
	if manifest != nil {
		if err := d.writeWhole(manifestName, manifest, nil); err != nil {
			return err
		}
	}
	if err := d.syncAll(); err != nil {
		return err
	}
	if d.controlFile != nil {
		if err := d.writeWhole(controlPath, d.control, d.controlFile); err != nil {
			return err
		}
		if err := d.syncAll(); err != nil {
			return err
		}
	}
	if d.marked {
		// Only now: a directory with pg_control but the marker is complete, one with the marker
		// but no pg_control is what a rerun with --refresh completes.
		if err := d.data.root.Remove(IncompleteMarker); err != nil {
			return fmt.Errorf("writing the backup directory: %w", err)
		}
		d.data.changed["."] = true
		if err := d.syncAll(); err != nil {
			return err
		}
	}
	d.done = true
	var errs []error
	for _, a := range d.allAreas() {
		errs = append(errs, a.close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	return nil
}

// syncAll fsyncs every directory the sink added entries to, unless fsync is off.
func (d *Dir) syncAll() error {
	if d.opts.NoSync {
		return nil
	}
	var errs []error
	for _, a := range d.allAreas() {
		errs = append(errs, a.syncDirs())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	return nil
}

// writeWhole writes a file of the data directory in one go and waits until it is on disk.
func (d *Dir) writeWhole(name string, body []byte, f *pipeline.File) error {
	file, err := d.data.create(name, d.opts.FileMode)
	if err != nil {
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	if _, err := file.Write(body); err != nil {
		file.Close()
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	if f == nil {
		f = &pipeline.File{}
	}
	d.cur, d.curArea, d.curName = file, d.data, name
	if err := d.finish(f); err != nil {
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	if err := d.closer.wait(); err != nil {
		return fmt.Errorf("writing the backup directory: %w", err)
	}
	return nil
}

func (d *Dir) allAreas() []*area {
	areas := []*area{d.data}
	for _, a := range d.spaces {
		areas = append(areas, a)
	}
	return areas
}

// Abort removes everything the sink made: the data directory and tablespace targets if it made
// them, else the entries it made inside them. Nothing that was there before is touched, except
// an earlier backup -f replaces: that is removed when the first Piece arrives, so an abort after
// it leaves DEST empty.
func (d *Dir) Abort() error {
	if d.done {
		return nil
	}
	d.done = true
	if d.cur != nil {
		d.cur.Close()
		d.cur = nil
	}
	d.closer.wait() // the files must be closed before they are removed; their errors no longer matter
	var errs []error
	for _, a := range d.allAreas() {
		if d.opts.Refresh {
			// Kept for the rerun, which moves only what differs; the marker says so.
			errs = append(errs, a.close())
			continue
		}
		errs = append(errs, a.rollback())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("writing the backup directory: abort: %w", err)
	}
	return nil
}
