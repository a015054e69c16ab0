package pgformat

import (
	"encoding/binary"
	"fmt"
)

// WALBlockSize is XLOG_BLCKSZ as PostgreSQL is built by default and by every packager we know of:
// WAL is written in pages of this size.
const WALBlockSize = 8192

// Page header sizes on 64-bit platforms (xlog_internal.h): the short header on every page, the
// long one on the first page of each segment.
const (
	walShortPageHeader = 24
	walLongPageHeader  = 40
)

// xlp_info bits.
const (
	walFirstIsContRecord          = 0x0001 // the page begins with the rest of an earlier record
	walLongHeader                 = 0x0002 // the page has the long header
	walFirstIsOverwriteContRecord = 0x0008 // a record replacing a lost continuation begins the page
	walAllPageFlags               = 0x000F // bits beyond these make the page invalid
)

// WALPageMagic is XLOG_PAGE_MAGIC, the WAL format version, that WAL written by a server of the
// given major version carries; ok is false for versions pgpull does not know.
func WALPageMagic(major int) (magic uint16, ok bool) {
	switch major {
	case 13:
		return 0xD106, true
	case 14:
		return 0xD10D, true
	case 15:
		return 0xD110, true
	case 16:
		return 0xD113, true
	case 17:
		return 0xD116, true
	case 18:
		return 0xD118, true
	}
	return 0, false
}

// WALMajor is the major version whose WAL carries magic; ok is false for a magic of no version
// pgpull knows.
func WALMajor(magic uint16) (major int, ok bool) {
	for m := 13; m <= 18; m++ {
		if mm, _ := WALPageMagic(m); mm == magic {
			return m, true
		}
	}
	return 0, false
}

// WALPageHeader is the header every WAL page starts with. The last three fields are those of the
// long header, zero on other pages.
type WALPageHeader struct {
	Magic    uint16
	Info     uint16
	Timeline uint32 // timeline of the first record on the page
	PageAddr LSN    // the page's own position
	RemLen   uint32 // bytes of a record continued from the previous page, 0 for none

	SystemID    uint64
	SegmentSize uint32
	BlockSize   uint32
}

// Long reports whether the header is the long one, which begins a segment.
func (h *WALPageHeader) Long() bool { return h.Info&walLongHeader != 0 }

// Size is the header's length in bytes: where the page's WAL data begins.
func (h *WALPageHeader) Size() int {
	if h.Long() {
		return walLongPageHeader
	}
	return walShortPageHeader
}

// ParseWALPageHeader reads the header at the start of page, which must hold at least 40 bytes.
func ParseWALPageHeader(page []byte) WALPageHeader {
	le := binary.LittleEndian
	h := WALPageHeader{
		Magic:    le.Uint16(page[0:]),
		Info:     le.Uint16(page[2:]),
		Timeline: le.Uint32(page[4:]),
		PageAddr: LSN(le.Uint64(page[8:])),
		RemLen:   le.Uint32(page[16:]),
	}
	if h.Long() {
		h.SystemID = le.Uint64(page[24:])
		h.SegmentSize = le.Uint32(page[32:])
		h.BlockSize = le.Uint32(page[36:])
	}
	return h
}

// walPageRules are what every page of one stretch of WAL must agree with.
type walPageRules struct {
	magic       uint16
	timeline    uint32 // of the segment files: no page may carry a later one
	segmentSize int64
	blockSize   int
	systemID    uint64 // 0: not checked
}

// problem says what is wrong with a page whose header is h, found at pageLSN after a page of
// timeline prevTimeline (0 for the first page), or "" when nothing is. The checks are those
// PostgreSQL's WAL reader applies to each page it reads.
func (r *walPageRules) problem(h *WALPageHeader, pageLSN LSN, prevTimeline uint32) string {
	if h.Magic == 0 && h.Info == 0 && h.PageAddr == 0 {
		return "the page is zeros where WAL should be (the file was cut short or is not written yet)"
	}
	if h.Magic != r.magic {
		if r.magic == 0 {
			return fmt.Sprintf("page magic %04X is that of no PostgreSQL version pgpull knows", h.Magic)
		}
		return fmt.Sprintf("page magic %04X, want %04X for this server version", h.Magic, r.magic)
	}
	if h.Info&^walAllPageFlags != 0 {
		return fmt.Sprintf("invalid page info bits %04X", h.Info)
	}
	first := int64(pageLSN)%r.segmentSize == 0
	if first && !h.Long() {
		return "the segment's first page lacks the long header"
	}
	if h.PageAddr != pageLSN {
		if h.PageAddr < pageLSN && int64(h.PageAddr)%int64(r.blockSize) == 0 {
			return fmt.Sprintf("the page is stale WAL of %s (a recycled segment not yet overwritten), want WAL of %s", h.PageAddr, pageLSN)
		}
		return fmt.Sprintf("page address %s, want %s (WAL of another place)", h.PageAddr, pageLSN)
	}
	if h.Timeline == 0 || h.Timeline > r.timeline {
		return fmt.Sprintf("page timeline %d, want 1 to %d", h.Timeline, r.timeline)
	}
	if h.Timeline < prevTimeline {
		return fmt.Sprintf("page timeline %d after a page of timeline %d", h.Timeline, prevTimeline)
	}
	if first {
		switch {
		case int64(h.SegmentSize) != r.segmentSize:
			return fmt.Sprintf("long header gives a segment size of %d, want %d", h.SegmentSize, r.segmentSize)
		case int(h.BlockSize) != r.blockSize:
			return fmt.Sprintf("long header gives a WAL block size of %d, want %d", h.BlockSize, r.blockSize)
		case r.systemID != 0 && h.SystemID != r.systemID:
			return fmt.Sprintf("long header gives system identifier %d, want %d (WAL of another cluster)", h.SystemID, r.systemID)
		}
	}
	return ""
}
