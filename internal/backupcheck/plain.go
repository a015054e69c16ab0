package backupcheck

import (
	"cmp"
	"context"
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
	m, err := readManifest(dir, rep)
	if m == nil {
		return rep, err
	}
	var found []plainFile
	walkPlain(dir, "", &found, rep)
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

// walkPlain lists the regular files under abs, which is rel in the backup ("" for the root).
func walkPlain(abs, rel string, out *[]plainFile, rep *Report) {
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
			walkPlain(childAbs, childRel, out, rep)
		case info.Mode().IsRegular():
			*out = append(*out, plainFile{rel: childRel, abs: childAbs, size: info.Size()})
		case !ignoredPath(childRel):
			rep.add(Unreadable, childRel, "not a regular file or directory (%v)", info.Mode().Type())
		}
	}
}

// readPlain reads and hashes the files that have a checksum in the manifest; the others need
// only their size.
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
		if len(algs) == 0 || ignoredPath(f.rel) {
			entries[i] = entry{size: f.size}
			continue
		}
		readers.Go(func() {
			buf := bufs.Get().(*[]byte)
			defer bufs.Put(buf)
			entries[i], errs[i] = digestFile(ctx, f.abs, algs, *buf)
		})
	}
	readers.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files := make(map[string]entry, len(found))
	for i, f := range found {
		if errs[i] != nil {
			rep.add(Unreadable, f.rel, "%v", errs[i])
			continue
		}
		files[f.rel] = entries[i]
	}
	return files, nil
}

func digestFile(ctx context.Context, p string, algs []manifest.Algorithm, buf []byte) (entry, error) {
	f, err := os.Open(p)
	if err != nil {
		return entry{}, err
	}
	defer f.Close()
	return digest(&ctxReader{ctx: ctx, r: f}, algs, buf)
}
