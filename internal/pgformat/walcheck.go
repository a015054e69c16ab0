package pgformat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// WALRange is the WAL a backup needs, and what the server that wrote it is like.
type WALRange struct {
	// Start is the backup's start: where the first record to read begins. 0 when it is not known
	// yet: the walk then begins at the first record of the first segment it is given.
	Start       LSN
	Stop        LSN    // the backup's stop: WAL must read whole up to here
	Timeline    uint32 // of the segment files
	SegmentSize int64
	// Magic is the server's WAL page magic (see WALPageMagic); 0 to take that of the first page,
	// if it is one of a known version.
	Magic     uint16
	SystemID  uint64 // checked against each segment's long header; 0 for not checked
	BlockSize int    // WAL page size; 0 for WALBlockSize
}

// WALError is the first problem a WALChecker found.
type WALError struct {
	Segment string // full file name of the segment holding LSN
	LSN     LSN
	Problem string
}

func (e *WALError) Error() string {
	return fmt.Sprintf("WAL segment %s at %s: %s", e.Segment, e.LSN, e.Problem)
}

// WALChecker reads WAL as PostgreSQL's reader does, from the backup's start through its stop:
// every page header is valid for its place, every record reads whole with a correct CRC-32C and
// a previous-record link to the record before it, records continue across pages and segments,
// and a switch record moves on to the next segment. It is fed segment after segment, each with
// BeginSegment, Write and EndSegment, and holds at most one page and one record header at a time.
type WALChecker struct {
	rules    walPageRules
	start    LSN
	stop     LSN
	crcTable *crc32.Table
	first    Segment // of Start
	last     Segment // the last segment Stop needs

	walk  walPosition
	saved walPosition // walk at the current segment's beginning, for Retry
	// page gathers a page split across Writes.
	page    []byte
	pageLen int
	err     *WALError
	// validThrough is where the walk stopped on an error: every record before it read whole.
	validThrough LSN
	startKnown   bool
}

// walPosition is everything the walk knows between two pages; copying it rewinds the walk.
type walPosition struct {
	segment    Segment // the segment being fed, or the next one expected
	inSegment  bool
	fed        int64  // bytes of segment walked: its next page's offset
	next       LSN    // where the next record begins, when no record is open
	prev       LSN    // where the last record read began; 0 before the first
	timeline   uint32 // of the last page read
	skipToNext bool   // a switch record ended the segment's WAL
	reached    bool   // the walk has read every record before Stop
	begun      bool   // a segment has been given
	// skipping marks the open record as the tail of one begun before the walk's first segment,
	// passed over unchecked.
	skipping bool

	// The record being read, when open is set.
	open      bool
	recLSN    LSN
	header    [WALRecordHeaderSize]byte
	headerLen int
	totLen    uint32
	got       uint32 // bytes of it read so far
	crc       uint32 // of its bytes after the header, so far
}

// NewWALChecker makes a checker for r; the first segment it must be fed holds r.Start.
func NewWALChecker(r WALRange) (*WALChecker, error) {
	if r.BlockSize == 0 {
		r.BlockSize = WALBlockSize
	}
	switch {
	case r.SegmentSize < int64(r.BlockSize) || r.SegmentSize&(r.SegmentSize-1) != 0 || r.BlockSize&(r.BlockSize-1) != 0:
		return nil, fmt.Errorf("WAL check: segment size %d and block size %d are not powers of 2 with the segment the larger", r.SegmentSize, r.BlockSize)
	case r.Stop <= r.Start:
		return nil, fmt.Errorf("WAL check: stop LSN %s is not after start LSN %s", r.Stop, r.Start)
	case r.Timeline == 0:
		return nil, errors.New("WAL check: timeline 0")
	}
	inPage := int64(r.Start) % int64(r.BlockSize)
	header := int64(walShortPageHeader)
	if int64(r.Start)%r.SegmentSize < int64(r.BlockSize) {
		header = walLongPageHeader
	}
	if inPage%walAlign != 0 || inPage != 0 && inPage < header {
		return nil, fmt.Errorf("WAL check: start LSN %s cannot begin a record", r.Start)
	}
	c := &WALChecker{
		rules: walPageRules{magic: r.Magic, timeline: r.Timeline, segmentSize: r.SegmentSize,
			blockSize: r.BlockSize, systemID: r.SystemID},
		start:      r.Start,
		stop:       r.Stop,
		crcTable:   crc32.MakeTable(crc32.Castagnoli),
		first:      SegmentOf(r.Start, r.SegmentSize),
		last:       LastSegmentBefore(r.Stop, r.SegmentSize),
		page:       make([]byte, r.BlockSize),
		startKnown: r.Start != 0,
	}
	c.walk.segment = c.first
	c.walk.next = r.Start
	return c, nil
}

// First is the first segment the check needs: BeginSegment must be given First, First+1, ...
func (c *WALChecker) First() Segment { return c.first }

// Last is the last segment the check needs.
func (c *WALChecker) Last() Segment { return c.last }

// SetStop sets the stop LSN of a checker made before the backup stopped, with Stop as far as an
// LSN goes. It must come before the walk reaches the segment that holds stop.
func (c *WALChecker) SetStop(stop LSN) error {
	if stop <= c.start {
		return fmt.Errorf("WAL check: stop LSN %s is not after start LSN %s", stop, c.start)
	}
	c.stop, c.last = stop, LastSegmentBefore(stop, c.rules.segmentSize)
	if !c.walk.open && c.walk.next >= stop {
		c.walk.reached = true
	}
	return nil
}

// ValidThrough is how far the WAL given so far reads whole: every record that ends before it, from
// the walk's start, was read and found whole.
func (c *WALChecker) ValidThrough() LSN {
	switch {
	case c.err != nil:
		return c.validThrough
	case c.walk.open:
		return c.walk.recLSN
	}
	return c.walk.next
}

// Err is the first problem found, or nil.
func (c *WALChecker) Err() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// Magic is the page magic the WAL is checked against: WALRange.Magic, or the one the walk took
// from the first page; 0 before that.
func (c *WALChecker) Magic() uint16 { return c.rules.magic }

// Reached reports whether every record before the stop LSN has been read and found whole.
func (c *WALChecker) Reached() bool { return c.err == nil && c.walk.reached }

// Segment is the segment being fed, or the one expected next.
func (c *WALChecker) Segment() Segment { return c.walk.segment }

// BeginSegment starts the next segment's bytes. Segments must come in order from First; once the
// walk has reached the stop LSN, further segments are accepted and ignored.
func (c *WALChecker) BeginSegment(seg Segment) error {
	if c.err != nil {
		return c.err
	}
	if c.walk.reached {
		c.walk.segment, c.walk.inSegment, c.walk.fed, c.pageLen = seg, true, 0, 0
		return nil
	}
	if c.walk.inSegment {
		return fmt.Errorf("WAL check: segment %s begun before %s ended", c.name(seg), c.name(c.walk.segment))
	}
	if !c.startKnown && !c.walk.begun {
		c.first, c.walk.segment, c.walk.next = seg, seg, c.segmentLSN(seg)
	}
	c.walk.begun = true
	if seg != c.walk.segment {
		return c.fail(c.segmentLSN(c.walk.segment), fmt.Sprintf("the segment given next was %s, want this one", c.name(seg)))
	}
	c.walk.inSegment, c.walk.fed, c.pageLen = true, 0, 0
	c.saved = c.walk
	return nil
}

// Write walks the segment's next bytes.
func (c *WALChecker) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if !c.walk.inSegment {
		return 0, errors.New("WAL check: bytes written outside a segment")
	}
	bs := len(c.page)
	n := len(p)
	for len(p) > 0 {
		if c.walk.fed+int64(c.pageLen)+int64(len(p)) > c.rules.segmentSize {
			return 0, c.fail(c.segmentLSN(c.walk.segment)+LSN(c.rules.segmentSize),
				fmt.Sprintf("the segment holds more than its %d bytes", c.rules.segmentSize))
		}
		var page []byte
		if c.pageLen == 0 && len(p) >= bs {
			page, p = p[:bs], p[bs:]
		} else {
			k := copy(c.page[c.pageLen:], p)
			c.pageLen += k
			p = p[k:]
			if c.pageLen < bs {
				break
			}
			page, c.pageLen = c.page, 0
		}
		if !c.walk.reached {
			if err := c.readPage(page); err != nil {
				return 0, err
			}
		}
		c.walk.fed += int64(bs)
	}
	return n, nil
}

// EndSegment ends the segment's bytes; a segment shorter than the segment size is an error.
func (c *WALChecker) EndSegment() error {
	if c.err != nil {
		return c.err
	}
	if !c.walk.inSegment {
		return errors.New("WAL check: EndSegment outside a segment")
	}
	if size := c.walk.fed + int64(c.pageLen); size != c.rules.segmentSize {
		return c.fail(c.segmentLSN(c.walk.segment)+LSN(size),
			fmt.Sprintf("the segment ends after %d bytes, want %d", size, c.rules.segmentSize))
	}
	c.walk.inSegment = false
	c.walk.segment++
	return nil
}

// Retry forgets the current segment's bytes and its error, so that the segment can be fed again
// from its beginning, as read a second time.
func (c *WALChecker) Retry() {
	c.walk = c.saved
	c.walk.inSegment = false
	c.pageLen = 0
	c.err = nil
}

// Finish reports the first problem found, or that the WAL ended before the stop LSN.
func (c *WALChecker) Finish() error {
	switch {
	case c.err != nil:
		return c.err
	case c.walk.reached:
		return nil
	case c.walk.open:
		return c.fail(c.walk.recLSN, fmt.Sprintf("WAL ends inside a record, before the backup's stop LSN %s", c.stop))
	}
	return c.fail(c.walk.next, fmt.Sprintf("WAL ends before the backup's stop LSN %s", c.stop))
}

// readPage walks one whole page of the current segment.
func (c *WALChecker) readPage(page []byte) error {
	w := &c.walk
	pageLSN := c.segmentLSN(w.segment) + LSN(w.fed)
	if w.skipToNext {
		if w.fed != 0 {
			return nil // after a switch record the rest of the segment is zeros, headers too
		}
		w.skipToNext = false
	}
	h := ParseWALPageHeader(page)
	if c.rules.magic == 0 {
		if _, known := WALMajor(h.Magic); known {
			c.rules.magic = h.Magic
		}
	}
	if p := c.rules.problem(&h, pageLSN, w.timeline); p != "" {
		return c.fail(pageLSN, p)
	}
	w.timeline = h.Timeline
	pageEnd := pageLSN + LSN(len(page))
	hs := h.Size()
	off := hs
	if !c.startKnown && w.segment == c.first && w.fed == 0 && h.Info&walFirstIsContRecord != 0 {
		// The first page of the walk continues a record begun before it: pass over its tail.
		w.open, w.skipping, w.recLSN, w.headerLen, w.totLen, w.got = true, true, pageLSN, WALRecordHeaderSize, h.RemLen, 0
	}
	switch {
	case w.open:
		if h.Info&walFirstIsOverwriteContRecord != 0 {
			// The server lost the record's end and wrote over it; reading starts again here,
			// after a record whose link we cannot know.
			w.open, w.prev = false, 0
			w.next = pageLSN + LSN(hs)
			break
		}
		want := w.totLen - w.got
		if h.Info&walFirstIsContRecord == 0 {
			return c.fail(w.recLSN, fmt.Sprintf("the record continues on the page at %s, which has no continuation flag", pageLSN))
		}
		if h.RemLen != want {
			return c.fail(w.recLSN, fmt.Sprintf("the page at %s continues the record with %d bytes, want %d", pageLSN, h.RemLen, want))
		}
		n := min(int(want), len(page)-hs)
		if err := c.feed(page[hs : hs+n]); err != nil {
			return err
		}
		if w.open {
			return nil // the record goes on to the next page
		}
		if w.skipToNext {
			return nil
		}
		off = hs + int(walAligned(int64(n)))
		w.next = pageLSN + LSN(off)
	case w.next >= pageEnd:
		return nil // before the start: only the header is read
	case w.next <= pageLSN:
		// The last record ended on the page before, which a continuation cannot then begin.
		if h.Info&walFirstIsContRecord != 0 {
			return c.fail(pageLSN, "the page begins with the rest of a record, but the record before it ended on the previous page")
		}
		w.next = pageLSN + LSN(hs)
	default:
		off = int(w.next - pageLSN)
	}
	for !w.reached && off+walAlign <= len(page) {
		if w.next >= c.stop {
			w.reached = true
			break
		}
		totLen := binary.LittleEndian.Uint32(page[off:])
		if totLen < WALRecordHeaderSize || totLen > walRecordMaxSize {
			what := fmt.Sprintf("invalid record length %d", totLen)
			if totLen == 0 {
				what = "no record where one must begin (zeros: the WAL was cut short here)"
			}
			return c.fail(w.next, what)
		}
		w.open, w.recLSN, w.headerLen, w.totLen, w.got, w.crc = true, w.next, 0, totLen, 0, 0
		n := min(int(totLen), len(page)-off)
		if err := c.feed(page[off : off+n]); err != nil {
			return err
		}
		if w.open || w.skipToNext {
			return nil
		}
		off += int(walAligned(int64(totLen)))
		w.next = pageLSN + LSN(off)
	}
	if w.next >= c.stop {
		w.reached = true
	}
	return nil
}

// feed adds bytes of the open record, and checks it once it is whole.
func (c *WALChecker) feed(b []byte) error {
	w := &c.walk
	w.got += uint32(len(b))
	if w.skipping {
		if w.got >= w.totLen {
			w.open, w.skipping = false, false
		}
		return nil
	}
	if w.headerLen < WALRecordHeaderSize {
		k := copy(w.header[w.headerLen:], b)
		w.headerLen += k
		b = b[k:]
		if w.headerLen == WALRecordHeaderSize {
			if err := c.checkLink(); err != nil {
				return err
			}
		}
	}
	w.crc = crc32.Update(w.crc, c.crcTable, b)
	if w.headerLen < WALRecordHeaderSize || w.got < w.totLen {
		return nil
	}
	h := ParseWALRecordHeader(w.header[:])
	if crc := crc32.Update(w.crc, c.crcTable, w.header[:20]); crc != h.CRC {
		return c.fail(w.recLSN, fmt.Sprintf("record CRC-32C %08X, want %08X (the record is damaged)", h.CRC, crc))
	}
	w.open, w.prev = false, w.recLSN
	if h.Switch() {
		w.skipToNext = true
		w.next = c.segmentLSN(SegmentOf(w.recLSN, c.rules.segmentSize) + 1)
		if w.next >= c.stop {
			w.reached = true
		}
	}
	return nil
}

// checkLink checks the open record's header once it is whole: its link to the record before.
func (c *WALChecker) checkLink() error {
	w := &c.walk
	prev := LSN(binary.LittleEndian.Uint64(w.header[8:]))
	switch {
	case w.prev == 0 && prev >= w.recLSN:
		return c.fail(w.recLSN, fmt.Sprintf("the record's previous-record link %s does not point back", prev))
	case w.prev != 0 && prev != w.prev:
		return c.fail(w.recLSN, fmt.Sprintf("the record's previous-record link is %s, want %s (stale or misplaced WAL)", prev, w.prev))
	}
	return nil
}

func (c *WALChecker) fail(at LSN, problem string) *WALError {
	c.validThrough = c.walk.next
	if c.walk.open {
		c.validThrough = c.walk.recLSN
	}
	c.err = &WALError{Segment: c.name(SegmentOf(at, c.rules.segmentSize)), LSN: at, Problem: problem}
	return c.err
}

func (c *WALChecker) segmentLSN(s Segment) LSN { return LSN(uint64(s) * uint64(c.rules.segmentSize)) }

func (c *WALChecker) name(s Segment) string { return s.Name(c.rules.timeline, c.rules.segmentSize) }
