package backupcheck

import (
	"cmp"
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/pgpull/pgpull/internal/manifest"
)

// verifyPlain checks a plain backup directory, following the links a restored cluster follows:
// pg_tblspc/<oid> to each tablespace and pg_wal to a separate WAL directory.
func verifyPlain(ctx context.Context, dir string) (*Report, error) {
	rep := &Report{Form: "plain directory"}
	m, err := readManifest(dir, rep)
	if m == nil {
		return rep, err
	}
	var found []plainFile
	walkPlain(dir, "", &found, rep)
	files, err := readPlain(ctx, found, fileAlgorithms(m), rep)
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

// plainReaders bounds the files read at once: a few reads in flight keep an SSD or a RAID busy,
// and the hashing spreads over the cores.
func plainReaders() int { return min(runtime.GOMAXPROCS(0), 8) }

// readPlain reads and hashes the files that have a checksum in the manifest; the others need
// only their size.
func readPlain(ctx context.Context, found []plainFile, algsFor func(string) []manifest.Algorithm, rep *Report) (map[string]entry, error) {
	entries := make([]entry, len(found))
	errs := make([]error, len(found))
	next := make(chan int)
	var wg sync.WaitGroup
	for range plainReaders() {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for i := range next {
				f := found[i]
				algs := algsFor(f.rel)
				if len(algs) == 0 || ignoredPath(f.rel) {
					entries[i] = entry{size: f.size}
					continue
				}
				entries[i], errs[i] = digestFile(ctx, f.abs, algs, buf)
			}
		})
	}
	for i := range found {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
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
