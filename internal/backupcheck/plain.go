package backupcheck

import (
	"cmp"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"

	"github.com/sourcegraph/conc/pool"

	"github.com/pgpull/pgpull/internal/manifest"
)

// verifyPlain checks a plain backup directory, following the links a restored cluster follows:
// pg_tblspc/<oid> to each tablespace and pg_wal to a separate WAL directory.
func (c Checker) verifyPlain(ctx context.Context, dir string) (*Report, error) {
	rep := &Report{Form: "plain directory"}
	if err := unfinishedPlain(dir); err != nil {
		return nil, err
	}
	m, err := c.readManifest(dir, rep)
	if err != nil {
		return nil, err
	} else if m == nil {
		return rep, nil
	}
	var found []plainFile
	var dirs []string
	walkPlain(dir, "", &found, &dirs, rep)
	if c.Copy != nil {
		for _, d := range dirs {
			if err := c.Copy.Dir(d); err != nil {
				return nil, copyFailed{err}
			}
		}
	}
	files, err := c.readPlain(ctx, found, fileAlgorithms(m), rep)
	if err != nil {
		return nil, err
	}
	walk := newWALWalk(m.WALRanges)
	if err := readPlainWAL(ctx, found, walk, rep); err != nil {
		return nil, err
	}
	compare(m, files, walk, rep)
	return rep, nil
}

// plainFile is a regular file found in a plain backup.
type plainFile struct {
	rel, abs string
	size     int64
}

// walkPlain lists the regular files under abs, which is rel in the backup ("" for the root), and
// in dirs the directories, each before those inside it.
func walkPlain(abs, rel string, out *[]plainFile, dirs *[]string, rep *Report) {
	des, err := os.ReadDir(abs)
	if err != nil {
		rep.add(Unreadable, cmp.Or(rel, abs), "%v", err)
		return
	}
	for _, de := range des {
		childRel, childAbs := path.Join(rel, de.Name()), filepath.Join(abs, de.Name())
		var info fs.FileInfo
		if de.Type()&fs.ModeSymlink != 0 && (childRel == "pg_wal" || path.Dir(childRel) == "pg_tblspc") {
			info, err = os.Stat(childAbs)
		} else {
			info, err = de.Info()
		}
		if err != nil {
			rep.add(Unreadable, childRel, "%v", err)
			continue
		}
		switch {
		case info.IsDir():
			*dirs = append(*dirs, childRel)
			walkPlain(childAbs, childRel, out, dirs, rep)
		case info.Mode().IsRegular():
			*out = append(*out, plainFile{rel: childRel, abs: childAbs, size: info.Size()})
		case !ignoredPath(childRel):
			rep.add(Unreadable, childRel, "not a regular file or directory (%v)", info.Mode().Type())
		}
	}
}

// readPlain reads and hashes the files that have a checksum in the manifest; the others need
// only their size, unless they are copied.
func (c Checker) readPlain(ctx context.Context, found []plainFile, algsFor func(string) []manifest.Algorithm, rep *Report) (map[string]entry, error) {
	entries := make([]entry, len(found))
	errs := make([]error, len(found))
	// Each read borrows a copy buffer; at most Readers are in use at once.
	bufs := sync.Pool{New: func() any { b := c.buffer(); return &b }}
	readers := pool.New().WithMaxGoroutines(max(c.Readers, 1))
	for i, f := range found {
		if ctx.Err() != nil {
			break
		}
		algs := algsFor(f.rel)
		if ignoredPath(f.rel) {
			algs = nil
		}
		if len(algs) == 0 && c.Copy == nil {
			entries[i] = entry{size: f.size}
			continue
		}
		readers.Go(func() {
			buf := bufs.Get().(*[]byte)
			defer bufs.Put(buf)
			entries[i], errs[i] = c.digestFile(ctx, f, algs, *buf)
		})
	}
	readers.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files := make(map[string]entry, len(found))
	for i, f := range found {
		var failed copyFailed
		if errors.As(errs[i], &failed) {
			return nil, failed
		}
		if errs[i] != nil {
			rep.add(Unreadable, f.rel, "%v", errs[i])
			continue
		}
		files[f.rel] = entries[i]
	}
	return files, nil
}

// digestFile reads and hashes the plain backup's file f, copying it when the Checker copies.
func (c Checker) digestFile(ctx context.Context, f plainFile, algs []manifest.Algorithm, buf []byte) (entry, error) {
	file, err := os.Open(f.abs)
	if err != nil {
		return entry{}, err
	}
	defer file.Close()
	var to io.WriteCloser
	if f.rel != manifestName { // the Copier has it from Manifest
		if to, err = c.copyTarget(f.rel, f.size); err != nil {
			return entry{}, err
		}
	}
	return digest(&ctxReader{ctx: ctx, r: file}, algs, buf, to)
}
