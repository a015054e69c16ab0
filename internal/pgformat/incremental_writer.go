package pgformat

import (
	"fmt"
	"io"
)

// IncrementalWriter writes one incremental file: the header at once, then the pages in the
// header's order as they arrive, so that a caller that knows the header (and with it FileSize)
// can start a tar member before it has fetched a page.
type IncrementalWriter struct {
	w       io.Writer
	h       IncrementalHeader
	written int // pages written so far
}

// NewIncrementalWriter validates h and writes its bytes to w.
func NewIncrementalWriter(w io.Writer, h IncrementalHeader) (*IncrementalWriter, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	if _, err := w.Write(h.Bytes()); err != nil {
		return nil, err
	}
	return &IncrementalWriter{w: w, h: h}, nil
}

// WritePage writes the next page, that of block h.Blocks[n] for the n-th call; page must be
// BlockSize bytes.
func (iw *IncrementalWriter) WritePage(page []byte) error {
	if iw.written == len(iw.h.Blocks) {
		return fmt.Errorf("incremental file: page %d past the %d the header names", iw.written+1, len(iw.h.Blocks))
	}
	if len(page) != BlockSize {
		return fmt.Errorf("incremental file: block %d: page of %d bytes, want %d", iw.h.Blocks[iw.written], len(page), BlockSize)
	}
	if _, err := iw.w.Write(page); err != nil {
		return err
	}
	iw.written++
	return nil
}

// Close checks that every page the header names was written; it does not close the writer.
func (iw *IncrementalWriter) Close() error {
	if iw.written != len(iw.h.Blocks) {
		return fmt.Errorf("incremental file: %d pages written of the %d the header names", iw.written, len(iw.h.Blocks))
	}
	return nil
}
