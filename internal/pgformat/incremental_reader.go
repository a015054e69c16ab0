package pgformat

import (
	"fmt"
	"io"
)

// IncrementalFile is an incremental file opened for reading its pages.
type IncrementalFile struct {
	IncrementalHeader
	r io.ReaderAt
}

// OpenIncremental reads the header of the incremental file r, which is size bytes long, and checks
// that the file holds exactly the pages its header names: a file cut short or with bytes after
// its last page is refused here rather than read wrong later.
func OpenIncremental(r io.ReaderAt, size int64) (*IncrementalFile, error) {
	h, err := ParseIncrementalHeader(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, err
	}
	if want := h.FileSize(); size != want {
		return nil, fmt.Errorf("incremental file: %d bytes, but its header names %d pages (%d bytes)", size, len(h.Blocks), want)
	}
	return &IncrementalFile{IncrementalHeader: h, r: r}, nil
}

// ReadPage reads block's page into page (BlockSize bytes). It reports false, reading nothing,
// when the file does not hold the block.
func (f *IncrementalFile) ReadPage(block uint32, page []byte) (bool, error) {
	off, ok := f.PageOffset(block)
	if !ok {
		return false, nil
	}
	if _, err := f.r.ReadAt(page[:BlockSize], off); err != nil {
		return true, fmt.Errorf("incremental file: block %d: %w", block, err)
	}
	return true, nil
}
