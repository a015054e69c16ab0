package pgformat

import (
	"fmt"
	"strconv"
	"strings"
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
	if !IsSegmentName(name) {
		return 0, 0, false
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

// IsSegmentName reports whether name has the form of a WAL segment file name: 24 upper-case hex
// digits, as IsXLogFileName defines them. History files, .partial and .backup files are not.
func IsSegmentName(name string) bool {
	if len(name) != 24 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// IsSegmentPath reports whether p, a path relative to the data directory, is a WAL segment file
// directly in pg_wal; archive_status markers are not.
func IsSegmentPath(p string) bool {
	name, ok := strings.CutPrefix(p, "pg_wal/")
	return ok && IsSegmentName(name)
}
