package pgformat

import (
	"testing"
)

func TestSegmentNames(t *testing.T) {
	const mb16 = 16 << 20
	tests := []struct {
		lsn        LSN
		size       int64
		first      string // the segment holding lsn
		lastBefore string // the last segment a record ending at lsn needs
	}{
		// The example of PostgreSQL's docs: start LSN 0/2000028 on timeline 1.
		{0x2000028, mb16, "000000010000000000000002", "000000010000000000000002"},
		// A record ending exactly on a boundary needs the segment before it.
		{0x3000000, mb16, "000000010000000000000003", "000000010000000000000002"},
		// Crossing into the next log file: 256 segments of 16 MB each.
		{0x1_00000000, mb16, "000000010000000100000000", "0000000100000000000000FF"},
		{0x1_0A000001, mb16, "00000001000000010000000A", "00000001000000010000000A"},
		// 1 GB segments: four to a log file.
		{0x2_40000000, 1 << 30, "000000010000000200000001", "000000010000000200000000"},
	}
	for _, tt := range tests {
		if got := SegmentOf(tt.lsn, tt.size).Name(1, tt.size); got != tt.first {
			t.Errorf("SegmentOf(%s) = %s, want %s", tt.lsn, got, tt.first)
		}
		if got := LastSegmentBefore(tt.lsn, tt.size).Name(1, tt.size); got != tt.lastBefore {
			t.Errorf("LastSegmentBefore(%s) = %s, want %s", tt.lsn, got, tt.lastBefore)
		}
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		tli  uint32
		seg  Segment
	}{
		{"000000010000000000000002", true, 1, 2},
		{"0000000200000001000000FF", true, 2, 511},
		{"00000001000000000000000a", false, 0, 0}, // lower case is not a segment name
		{"000000010000000000000002.partial", false, 0, 0},
		{"00000002.history", false, 0, 0},
		{"000000010000000000000100", false, 0, 0}, // only 256 segments of 16 MB to a log file
		{"", false, 0, 0},
	}
	for _, tt := range tests {
		tli, seg, ok := ParseName(tt.name, 16<<20)
		if ok != tt.ok || ok && (tli != tt.tli || seg != tt.seg) {
			t.Errorf("ParseName(%q) = %d, %d, %v; want %d, %d, %v", tt.name, tli, seg, ok, tt.tli, tt.seg, tt.ok)
		}
	}
}

// TestSegmentName names segments the way XLogFileName does: timeline, then the segment number
// split at 4 GB of WAL.
func TestSegmentName(t *testing.T) {
	tests := []struct {
		tli     uint32
		seg     Segment
		segSize int64
		want    string
	}{
		{1, 2, 16 << 20, "000000010000000000000002"},
		{1, 0x100, 16 << 20, "000000010000000100000000"},
		{3, 0x1234, 1 << 30, "000000030000048D00000000"},
	}
	for _, tt := range tests {
		if got := tt.seg.Name(tt.tli, tt.segSize); got != tt.want {
			t.Errorf("Segment(%#x).Name(%d, %d) = %s, want %s", uint64(tt.seg), tt.tli, tt.segSize, got, tt.want)
		}
	}
}

func TestIsSegmentPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"pg_wal/000000010000000000000002", true},
		{"pg_wal/00000002.history", false},
		{"pg_wal/archive_status/000000010000000000000002.done", false},
		{"pg_wal/00000001000000000000000a", false},
		{"base/000000010000000000000002", false},
		{"000000010000000000000002", false},
	}
	for _, tt := range tests {
		if got := IsSegmentPath(tt.path); got != tt.want {
			t.Errorf("IsSegmentPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func FuzzParseName(f *testing.F) {
	f.Add("000000010000000000000002")
	f.Add("FFFFFFFFFFFFFFFFFFFFFFFF")
	f.Fuzz(func(t *testing.T, name string) {
		tli, seg, ok := ParseName(name, 16<<20)
		if ok && seg.Name(tli, 16<<20) != name {
			t.Fatalf("%q parsed as timeline %d segment %d, which is named %s", name, tli, seg, seg.Name(tli, 16<<20))
		}
	})
}
