package walfeed

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Archive is where a feed puts what it copies: a directory (NewDirArchive) or a prefix of an S3
// bucket (NewS3Archive).
type Archive interface {
	// scan tells what the archive holds when the feed starts, to resume after it.
	scan(ctx context.Context, segSize int64) (dirState, error)
	// noteWhole records that the archive holds the segment called name whole, and each one before
	// it; heldWhole reports whether it holds name so. In warm standby mode the newest file under a
	// final name may be a copy of the segment being written: nothing in its bytes tells (after a
	// WAL switch a finished segment ends in zeros too).
	noteWhole(ctx context.Context, name string) error
	heldWhole(ctx context.Context, name string) (bool, error)
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

// wholeMark is the file in which a directory archive notes the newest segment it holds whole.
const wholeMark = ".pgpull-wal-whole"

func (d dirArchive) noteWhole(_ context.Context, name string) error {
	return writeDurably(d.dir, wholeMark, []byte(name+"\n"), d.mode, "")
}

func (d dirArchive) heldWhole(_ context.Context, name string) (bool, error) {
	mark, err := os.ReadFile(filepath.Join(d.dir, wholeMark))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil || name > strings.TrimSpace(string(mark)) {
		return false, err
	}
	_, err = os.Stat(filepath.Join(d.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d dirArchive) put(_ context.Context, name string, data []byte, replaced string) error {
	return writeDurably(d.dir, name, data, d.mode, replaced)
}

func (dirArchive) keepsPartial() bool   { return true }
func (dirArchive) transient(error) bool { return false }
func (d dirArchive) String() string     { return d.dir }
