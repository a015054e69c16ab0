package walfeed

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Archive is where a feed puts what it copies: a directory (NewDirArchive) or a prefix of an S3
// bucket (NewS3Archive).
type Archive interface {
	// scan tells what the archive holds when the feed starts, to resume after it.
	scan(ctx context.Context, segSize int64) (dirState, error)
	// tail is the last n bytes of the file called name, nil when the archive has no such file.
	tail(ctx context.Context, name string, n int) ([]byte, error)
	// put stores data as name so that a reader never sees half of it, and then removes replaced
	// (when not ""), a partial copy it supersedes.
	put(ctx context.Context, name string, data []byte, replaced string) error
	// keepsPartial reports whether the archive takes copies of the segment being written.
	keepsPartial() bool
	// transient reports whether a failed put may pass if tried again later.
	transient(err error) bool
	String() string
}

// dirArchive is a local directory, written durably, files of one mode.
type dirArchive struct {
	dir  string
	mode os.FileMode
}

// NewDirArchive is the directory dir, its files created with mode.
func NewDirArchive(dir string, mode os.FileMode) Archive { return dirArchive{dir: dir, mode: mode} }

func (d dirArchive) scan(_ context.Context, segSize int64) (dirState, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return dirState{}, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return readNames(names, segSize), nil
}

func (d dirArchive) tail(_ context.Context, name string, n int) ([]byte, error) {
	f, err := os.Open(filepath.Join(d.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() < int64(n) {
		return nil, err
	}
	b := make([]byte, n)
	_, err = f.ReadAt(b, st.Size()-int64(n))
	return b, err
}

func (d dirArchive) put(_ context.Context, name string, data []byte, replaced string) error {
	return writeDurably(d.dir, name, data, d.mode, replaced)
}

func (dirArchive) keepsPartial() bool   { return true }
func (dirArchive) transient(error) bool { return false }
func (d dirArchive) String() string     { return d.dir }
