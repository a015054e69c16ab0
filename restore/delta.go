package restore

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// deltaBlock is the unit a delta restore compares and rewrites: PostgreSQL's page.
const deltaBlock = 8192

// openDelta opens the file name for a delta restore: what is there is kept where the backup has
// the same bytes, and only the blocks that differ are written. Anything but a regular file in
// its place is removed first.
func (pl *place) openDelta(name string, t *tally) (io.WriteCloser, error) {
	if err := pl.mkdirAll(path.Dir(name)); err != nil {
		return nil, err
	}
	pl.mark(name)
	local := filepath.FromSlash(name)
	fi, err := pl.root.Lstat(local)
	existed := err == nil && fi.Mode().IsRegular()
	if err == nil && !existed {
		if err := pl.root.RemoveAll(local); err != nil {
			return nil, err
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := pl.root.OpenFile(local, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, err
	}
	d := &deltaFile{f: f, t: t, changed: !existed}
	if existed {
		d.old = fi.Size()
	}
	return d, nil
}

// deltaFile brings one file up to the backup's bytes, writing only the blocks that differ.
type deltaFile struct {
	f       *os.File
	t       *tally
	off     int64
	old     int64 // the file's size before
	local   []byte
	changed bool
}

func (d *deltaFile) Write(p []byte) (int, error) {
	if cap(d.local) < len(p) {
		d.local = make([]byte, len(p))
	}
	local := d.local[:len(p)]
	n := 0
	if d.off < d.old {
		var err error
		if n, err = d.f.ReadAt(local, d.off); err != nil && err != io.EOF {
			return 0, err
		}
	}
	for start := 0; start < len(p); start += deltaBlock {
		end := min(start+deltaBlock, len(p))
		if end <= n && bytes.Equal(local[start:end], p[start:end]) {
			continue
		}
		if _, err := d.f.WriteAt(p[start:end], d.off+int64(start)); err != nil {
			return start, err
		}
		d.changed = true
		d.t.bytes.Add(int64(end - start))
	}
	d.off += int64(len(p))
	return len(p), nil
}

func (d *deltaFile) Close() error {
	var err error
	if d.off != d.old {
		err = d.f.Truncate(d.off)
		d.changed = true
	}
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	d.t.files.Add(1)
	if d.changed {
		d.t.rewritten.Add(1)
	} else {
		d.t.unchanged.Add(1)
	}
	return err
}

// removeStale removes, after a delta restore, every entry of the place the backup did not hold,
// but those keep names, and counts the regular files removed.
func (pl *place) removeStale(keep ...string) (int64, error) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	var removed int64
	var stale []string
	err := fs.WalkDir(pl.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case p == "." || pl.written[p] && d.IsDir():
			return nil
		case pl.written[p] || slices.Contains(keep, p):
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		stale = append(stale, p)
		if d.IsDir() {
			n, err := countFiles(pl.root, p)
			removed += n
			if err != nil {
				return err
			}
			return fs.SkipDir
		}
		if d.Type().IsRegular() {
			removed++
		}
		return nil
	})
	if err != nil {
		return removed, err
	}
	for _, p := range stale {
		if err := pl.root.RemoveAll(filepath.FromSlash(p)); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// countFiles counts the regular files under dir in root.
func countFiles(root *os.Root, dir string) (int64, error) {
	var n int64
	err := fs.WalkDir(root.FS(), dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	return n, err
}
