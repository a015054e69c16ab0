package pgformat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// PostgreSQL 17's incremental relation file, INCREMENTAL.<relation file>: a header naming the
// blocks it holds, then those blocks. Every field is a uint32 in the server's byte order, which is
// little-endian on the amd64 and arm64 servers pgpull supports; this file reads and writes
// little-endian throughout.
const (
	// IncrementalMagic opens every incremental file.
	IncrementalMagic uint32 = 0xd3ae1f0d
	// IncrementalPrefix is the name prefix of an incremental file beside its relation file's name.
	IncrementalPrefix = "INCREMENTAL."
	// incrementalFixedHeader is magic, block count and truncation block length.
	incrementalFixedHeader = 12
)

// IncrementalHeader describes one incremental file: which blocks of its segment it holds and how
// long the segment is at least.
type IncrementalHeader struct {
	// Blocks are the block numbers held, relative to the segment file, strictly ascending; the
	// pages follow the header in this order.
	Blocks []uint32
	// TruncationBlockLength is the reconstructed segment's minimum length in blocks. Blocks below
	// it that the file does not hold come from the prior backup; blocks at or past it exist only
	// if this file (or a newer one) holds them.
	TruncationBlockLength uint32
}

// Validate checks what PostgreSQL's reader checks, and a little more: no more blocks than a
// segment has, a truncation length within a segment, and block numbers ascending within it.
func (h IncrementalHeader) Validate() error {
	if len(h.Blocks) > DefaultBlocksPerSegment {
		return fmt.Errorf("incremental file: block count %d over the segment size %d", len(h.Blocks), DefaultBlocksPerSegment)
	}
	if h.TruncationBlockLength > DefaultBlocksPerSegment {
		return fmt.Errorf("incremental file: truncation block length %d over the segment size %d", h.TruncationBlockLength, DefaultBlocksPerSegment)
	}
	for i, b := range h.Blocks {
		if b >= DefaultBlocksPerSegment {
			return fmt.Errorf("incremental file: block %d past the segment's %d blocks", b, DefaultBlocksPerSegment)
		}
		if i > 0 && b <= h.Blocks[i-1] {
			return fmt.Errorf("incremental file: block numbers not ascending (%d after %d)", b, h.Blocks[i-1])
		}
	}
	return nil
}

// HeaderSize is the header's length in bytes: padded to a whole block when the file holds any,
// so that the pages are block-aligned, and left short when it holds none.
func (h IncrementalHeader) HeaderSize() int64 {
	n := int64(incrementalFixedHeader + 4*len(h.Blocks))
	if len(h.Blocks) > 0 && n%BlockSize != 0 {
		n += BlockSize - n%BlockSize
	}
	return n
}

// FileSize is the whole file's length: header and pages. A tar stream writes it in the member's
// header before any page is fetched.
func (h IncrementalHeader) FileSize() int64 {
	return h.HeaderSize() + int64(len(h.Blocks))*BlockSize
}

// BlockLength is the length in blocks of the segment reconstructed from this file: the truncation
// length, or further when the file holds blocks past it.
func (h IncrementalHeader) BlockLength() uint32 {
	n := h.TruncationBlockLength
	if len(h.Blocks) > 0 {
		n = max(n, h.Blocks[len(h.Blocks)-1]+1)
	}
	return n
}

// Bytes renders the header with its padding: the first HeaderSize bytes of the file.
func (h IncrementalHeader) Bytes() []byte {
	b := make([]byte, 0, h.HeaderSize())
	b = binary.LittleEndian.AppendUint32(b, IncrementalMagic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h.Blocks)))
	b = binary.LittleEndian.AppendUint32(b, h.TruncationBlockLength)
	for _, blk := range h.Blocks {
		b = binary.LittleEndian.AppendUint32(b, blk)
	}
	return b[:cap(b)] // the padding: make zeroed it
}

// Index is the position of block among the file's pages, or false when the file does not hold it.
func (h IncrementalHeader) Index(block uint32) (int, bool) {
	return slices.BinarySearch(h.Blocks, block)
}

// PageOffset is where block's page starts in the file, or false when the file does not hold it.
func (h IncrementalHeader) PageOffset(block uint32) (int64, bool) {
	i, ok := h.Index(block)
	if !ok {
		return 0, false
	}
	return h.HeaderSize() + int64(i)*BlockSize, true
}

// ParseIncrementalHeader reads and validates the header at the start of r, padding included, so
// that r is left at the first page.
func ParseIncrementalHeader(r io.Reader) (IncrementalHeader, error) {
	var h IncrementalHeader
	var fixed [incrementalFixedHeader]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return h, fmt.Errorf("incremental file: header: %w", shortRead(err))
	}
	if magic := binary.LittleEndian.Uint32(fixed[0:]); magic != IncrementalMagic {
		return h, fmt.Errorf("incremental file: magic number 0x%08x, want 0x%08x", magic, IncrementalMagic)
	}
	count := binary.LittleEndian.Uint32(fixed[4:])
	h.TruncationBlockLength = binary.LittleEndian.Uint32(fixed[8:])
	if count > DefaultBlocksPerSegment {
		// Checked before the block numbers are read: the count sizes the next read.
		return h, fmt.Errorf("incremental file: block count %d over the segment size %d", count, DefaultBlocksPerSegment)
	}
	raw := make([]byte, 4*count)
	if _, err := io.ReadFull(r, raw); err != nil {
		return h, fmt.Errorf("incremental file: block numbers: %w", shortRead(err))
	}
	h.Blocks = make([]uint32, count)
	for i := range h.Blocks {
		h.Blocks[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	if err := h.Validate(); err != nil {
		return h, err
	}
	pad := h.HeaderSize() - int64(incrementalFixedHeader+len(raw))
	if _, err := io.CopyN(io.Discard, r, pad); err != nil {
		return h, fmt.Errorf("incremental file: header padding: %w", shortRead(err))
	}
	return h, nil
}

// shortRead names an end of input inside a header for what it is.
func shortRead(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("file too short")
	}
	return err
}
