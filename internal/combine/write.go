package combine

import (
	"bufio"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// writer writes the planned entries into the output and lists each file in the new manifest.
type writer struct {
	out      *output
	manifest *manifest.Manifest
	alg      manifest.Algorithm

	control      []byte // global/pg_control, written last
	controlMTime time.Time
}

// writeBufferSize is the buffer every file is written through: rebuilt files come a page at a
// time.
const writeBufferSize = 1 << 20

// writeAll writes the label, every entry, the manifest and, last, global/pg_control.
func (w *writer) writeAll(newest *backup, p *plan) error {
	if err := w.whole(labelName, pgformat.WithoutIncrementalFrom(newest.label)); err != nil {
		return err
	}
	for _, e := range p.entries {
		if err := w.entry(e); err != nil {
			return fmt.Errorf("writing %s: %w", e.rel, err)
		}
	}
	for _, r := range newest.manifest.WALRanges {
		w.manifest.AddWALRange(r.Timeline, r.Start, r.End)
	}
	if err := w.out.writeFile(filepath.Join(w.out.root, manifestName), w.manifest.Bytes()); err != nil {
		return fmt.Errorf("writing %s: %w", manifestName, err)
	}
	if w.control == nil {
		return chainError(newest.dir, "no %s", controlPath)
	}
	// Everything else is on disk before the file that lets the directory start.
	if err := w.out.syncDirs(); err != nil {
		return err
	}
	name := w.out.path(controlPath)
	if err := w.out.writeFile(name, w.control); err != nil {
		return fmt.Errorf("writing %s: %w", controlPath, err)
	}
	return os.Chtimes(name, w.controlMTime, w.controlMTime)
}

func (w *writer) entry(e entry) error {
	switch e.kind {
	case dirEntry:
		return w.out.mkdir(w.out.path(e.rel))
	case linkEntry:
		return os.Symlink(e.src, w.out.path(e.rel))
	case tablespaceEntry:
		return os.Symlink(w.out.linked[e.rel[len("pg_tblspc/"):]], w.out.path(e.rel))
	case copyEntry:
		if e.rel == controlPath {
			return w.holdControl(e.src)
		}
		return w.copy(e.rel, e.src)
	case rebuildEntry:
		return w.rebuild(e.rel, e.file)
	}
	return fmt.Errorf("unknown entry kind %d", e.kind)
}

// holdControl reads global/pg_control now, to list it in the manifest, and writes it last.
func (w *writer) holdControl(src string) error {
	var err error
	if w.control, err = os.ReadFile(src); err != nil {
		return err
	}
	w.controlMTime = time.Now()
	w.list(controlPath, int64(len(w.control)), w.controlMTime, w.hashOf(w.control))
	return nil
}

// whole writes a file made in memory.
func (w *writer) whole(rel string, body []byte) error {
	name := w.out.path(rel)
	if err := w.out.writeFile(name, body); err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	return w.listWritten(rel, name, w.hashOf(body))
}

// copy copies a file of the newest backup as it is.
func (w *writer) copy(rel, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return w.create(rel, func(dst io.Writer) error {
		_, err := io.Copy(dst, in)
		return err
	})
}

// rebuild writes a relation file block by block, each from the backup blockSource names.
func (w *writer) rebuild(rel string, f *rebuiltFile) error {
	readers := make([]*os.File, len(f.sources))
	defer func() {
		for _, r := range readers {
			if r != nil {
				r.Close()
			}
		}
	}()
	for i, s := range f.sources {
		r, err := os.Open(s.path)
		if err != nil {
			return err
		}
		readers[i] = r
	}
	page := make([]byte, pgformat.BlockSize)
	return w.create(rel, func(dst io.Writer) error {
		for block := range f.blockLength() {
			i, off := f.blockSource(block)
			if i < 0 {
				clear(page)
			} else if _, err := readers[i].ReadAt(page, off); err != nil {
				return fmt.Errorf("block %d from %s: %w", block, f.sources[i].path, err)
			}
			if _, err := dst.Write(page); err != nil {
				return err
			}
		}
		return nil
	})
}

// create writes a new file through fill, hashing what fill writes, and lists it.
func (w *writer) create(rel string, fill func(io.Writer) error) error {
	name := w.out.path(rel)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	var h hash.Hash
	if !underPgWAL(rel) { // the manifest does not list the WAL
		h = w.alg.New()
	}
	dst := io.Writer(f)
	if h != nil {
		dst = io.MultiWriter(f, h)
	}
	buf := bufio.NewWriterSize(dst, writeBufferSize)
	err = fill(buf)
	if err == nil {
		err = buf.Flush()
	}
	if err := w.out.close(f, err); err != nil {
		return err
	}
	var sum []byte
	if h != nil {
		sum = h.Sum(nil)
	}
	return w.listWritten(rel, name, sum)
}

// listWritten lists a file just written, with its size and time as the file system has them.
func (w *writer) listWritten(rel, name string, sum []byte) error {
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	w.list(rel, fi.Size(), fi.ModTime(), sum)
	return nil
}

// list adds a file to the manifest, which leaves the WAL out as the server's does.
func (w *writer) list(rel string, size int64, mtime time.Time, sum []byte) {
	if !underPgWAL(rel) {
		w.manifest.AddFile(rel, size, mtime, sum)
	}
}

func (w *writer) hashOf(body []byte) []byte {
	h := w.alg.New()
	if h == nil {
		return nil
	}
	h.Write(body)
	return h.Sum(nil)
}
