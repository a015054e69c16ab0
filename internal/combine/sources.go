package combine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// source is one backup's copy of a rebuilt file: its INCREMENTAL file, or the whole file.
type source struct {
	path   string
	header *pgformat.IncrementalHeader // nil for a whole file
	blocks uint32                      // a whole file's length in whole blocks
}

// rebuiltFile is a relation file to rebuild and its copies in the chain, newest first, down to
// the first whole one.
type rebuiltFile struct {
	sources []source
}

// resolveSources finds rel's copies, from the newest backup's INCREMENTAL file back through the
// chain until a backup holds the whole file, reading every INCREMENTAL header on the way. Every
// backup passed must hold the file in one form or the other: an incremental file depends on the
// one before it.
func resolveSources(chain []*backup, rel string) (*rebuiltFile, error) {
	dir, name := path.Split(rel)
	f := &rebuiltFile{}
	for i := len(chain) - 1; i >= 0; i-- {
		b := chain[i]
		whole := filepath.Join(b.dir, filepath.FromSlash(rel))
		incr := filepath.Join(b.dir, filepath.FromSlash(dir+pgformat.IncrementalPrefix+name))
		if i < len(chain)-1 {
			fi, err := os.Stat(whole)
			if err == nil && fi.Mode().IsRegular() {
				f.sources = append(f.sources, source{path: whole, blocks: uint32(fi.Size() / pgformat.BlockSize)})
				return f, nil
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, chainError(b.dir, "%v", err)
			}
		}
		h, err := readIncrementalHeader(incr)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, chainError(b.dir, "holds neither %s nor its INCREMENTAL file, which the newer backups need%s", rel, linkHint(b.dir, rel))
		}
		if err != nil {
			return nil, chainError(b.dir, "%v", err)
		}
		if i == 0 {
			return nil, chainError(b.dir, "is the full backup but holds an incremental file, %s", dir+pgformat.IncrementalPrefix+name)
		}
		f.sources = append(f.sources, source{path: incr, header: h})
	}
	return f, nil // not reached: chain[0] ends the loop
}

// readIncrementalHeader reads and checks an INCREMENTAL file's header and size.
func readIncrementalHeader(name string) (*pgformat.IncrementalHeader, error) {
	file, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, err
	}
	inc, err := pgformat.OpenIncremental(file, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &inc.IncrementalHeader, nil
}

// linkHint explains a file missing under a tablespace whose link in dir is gone or dangling.
func linkHint(dir, rel string) string {
	rest, ok := strings.CutPrefix(rel, "pg_tblspc/")
	if !ok {
		return ""
	}
	oid, _, _ := strings.Cut(rest, "/")
	link := filepath.Join(dir, "pg_tblspc", oid)
	if _, err := os.Lstat(link); err != nil {
		return fmt.Sprintf(" (it has no pg_tblspc/%s)", oid)
	}
	if _, err := os.Stat(link); err != nil {
		target, _ := os.Readlink(link)
		return fmt.Sprintf(" (its pg_tblspc/%s links to %s, which is missing)", oid, target)
	}
	return ""
}

// blockLength is the rebuilt file's length in blocks, as the newest INCREMENTAL file says.
func (f *rebuiltFile) blockLength() uint32 {
	return f.sources[0].header.BlockLength()
}

// blockSource says where block's content is: the index of the source and the offset in it, or
// -1 for a block of zeros. Going back from the newest backup, the first one that holds the block
// gives it; but a backup whose truncation length is at or below the block ends the search,
// because the file was no longer than that when it was taken: older content of that block was
// truncated away, and what is there now was never written to since (zeros).
func (f *rebuiltFile) blockSource(block uint32) (int, int64) {
	for i, s := range f.sources {
		if s.header == nil {
			if block < s.blocks {
				return i, int64(block) * pgformat.BlockSize
			}
			return -1, 0
		}
		if off, ok := s.header.PageOffset(block); ok {
			return i, off
		}
		if block >= s.header.TruncationBlockLength {
			return -1, 0
		}
	}
	return -1, 0
}
