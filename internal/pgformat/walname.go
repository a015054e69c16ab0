package pgformat

import (
	"fmt"
	"strconv"
)

// Segment numbers a WAL segment from the start of WAL, for a given segment size.
type Segment uint64

// SegmentOf is the segment holding lsn.
func SegmentOf(lsn LSN, size int64) Segment { return Segment(uint64(lsn) / uint64(size)) }

// LastSegmentBefore is the segment holding the byte before end: the last one a record ending at
// end needs.
func LastSegmentBefore(end LSN, size int64) Segment {
	return Segment((uint64(end) - 1) / uint64(size))
}

// Name is the segment's file name on timeline tli.
func (s Segment) Name(tli uint32, size int64) string {
	perID := uint64(0x100000000) / uint64(size)
	return fmt.Sprintf("%08X%08X%08X", tli, uint64(s)/perID, uint64(s)%perID)
}

// ParseName reads a segment file name: its timeline and segment number. ok is false for any
// name that is not 24 upper-case hex digits.
func ParseName(name string, size int64) (tli uint32, seg Segment, ok bool) {
	if len(name) != 24 {
		return 0, 0, false
	}
	for _, c := range name {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return 0, 0, false
		}
	}
	t, _ := strconv.ParseUint(name[:8], 16, 32)
	log, _ := strconv.ParseUint(name[8:16], 16, 32)
	off, _ := strconv.ParseUint(name[16:], 16, 32)
	perID := uint64(0x100000000) / uint64(size)
	if off >= perID {
		return 0, 0, false // no segment of this size has that name
	}
	return uint32(t), Segment(log*perID + off), true
}
