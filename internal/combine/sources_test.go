package combine

import (
	"fmt"
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// whole is a source holding a whole file of n blocks; incr one holding an INCREMENTAL file.
func whole(n uint32) source { return source{path: "whole", blocks: n} }

func incr(trunc uint32, blocks ...uint32) source {
	return source{path: "incr", header: &pgformat.IncrementalHeader{Blocks: blocks, TruncationBlockLength: trunc}}
}

// TestBlockSource checks where each block of a rebuilt file comes from: the index of its source
// (newest first) or z for zeros, one character a block up to the file's length.
func TestBlockSource(t *testing.T) {
	tests := []struct {
		name    string
		sources []source
		want    string
	}{
		{"unchanged file", []source{incr(4), whole(4)}, "1111"},
		{"changed blocks from the newest", []source{incr(4, 1, 3), whole(4)}, "1010"},
		{"each block from the newest backup that has it",
			[]source{incr(5, 0), incr(5, 0, 1, 4), incr(5, 2), whole(5)}, "01231"},
		// The file grew: blocks past the full backup's end come from the incrementals, and those
		// no backup holds are zeros (extended without WAL).
		{"grown past the full backup", []source{incr(6, 4), whole(3)}, "111z0z"},
		// A block past the truncation length that the newest holds lengthens the file; those
		// between are zeros even where an older backup had them.
		{"newest holds blocks past its truncation length", []source{incr(2, 5), whole(8)}, "11zzz0"},
		// The file was truncated to 3 blocks before the middle backup and grew back to 6 after
		// it: blocks 3 to 5 of the full backup were truncated away, so those the newest does not
		// hold are zeros, not the full backup's (pg_combinebackup would take them).
		{"truncated then grown", []source{incr(6, 3), incr(3), whole(8)}, "2220zz"},
		{"truncated to nothing", []source{incr(2, 1), incr(0), whole(8)}, "z0"},
		{"a whole file shorter than the truncation length", []source{incr(3), whole(2)}, "11z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &rebuiltFile{sources: tt.sources}
			got := ""
			for b := range f.blockLength() {
				i, off := f.blockSource(b)
				if i < 0 {
					got += "z"
					continue
				}
				got += fmt.Sprint(i)
				if want := wantOffset(tt.sources[i], b); off != want {
					t.Errorf("block %d from source %d at offset %d, want %d", b, i, off, want)
				}
			}
			if got != tt.want {
				t.Fatalf("blocks come from %q, want %q", got, tt.want)
			}
		})
	}
}

// wantOffset is where block b lies in s.
func wantOffset(s source, b uint32) int64 {
	if s.header == nil {
		return int64(b) * pgformat.BlockSize
	}
	off, _ := s.header.PageOffset(b)
	return off
}
