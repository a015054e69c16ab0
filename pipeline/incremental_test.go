package pipeline

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// TestStretches: whatever range of an INCREMENTAL file a Piece covers, the header bytes and the
// stretches it is told to read put every byte of the file where a reader of the format finds it.
func TestStretches(t *testing.T) {
	const bs = pgformat.BlockSize
	h := &pgformat.IncrementalHeader{Blocks: []uint32{3, 4, 5, 9, 10, 20}, TruncationBlockLength: 21}
	hs := h.HeaderSize() // one block: the header pads to a page
	f := &File{Incremental: h, Size: h.FileSize()}
	tests := []struct {
		name        string
		off, n, max int64
		header      int
		want        []Stretch
	}{
		{"whole file", 0, f.Size, 1 << 20, int(hs), []Stretch{
			{At: hs, SourceOffset: 3 * bs, Length: 3 * bs},
			{At: hs + 3*bs, SourceOffset: 9 * bs, Length: 2 * bs},
			{At: hs + 5*bs, SourceOffset: 20 * bs, Length: bs}}},
		{"rows of two blocks", 0, f.Size, 2 * bs, int(hs), []Stretch{
			{At: hs, SourceOffset: 3 * bs, Length: 2 * bs},
			{At: hs + 2*bs, SourceOffset: 5 * bs, Length: bs},
			{At: hs + 3*bs, SourceOffset: 9 * bs, Length: 2 * bs},
			{At: hs + 5*bs, SourceOffset: 20 * bs, Length: bs}}},
		{"header only", 0, hs, 1 << 20, int(hs), nil},
		{"pages only, from the second", hs + bs, 2 * bs, 1 << 20, 0, []Stretch{
			{At: 0, SourceOffset: 4 * bs, Length: 2 * bs}}},
		{"inside pages", hs + bs/2, bs, 1 << 20, 0, []Stretch{
			{At: 0, SourceOffset: 3*bs + bs/2, Length: bs}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Piece{File: f, Offset: tt.off, Length: tt.n}
			header, got := p.Stretches(tt.max)
			if len(header) != tt.header || len(header) > 0 && !bytes.Equal(header, h.Bytes()[tt.off:tt.off+int64(len(header))]) {
				t.Errorf("header part of %d bytes, want %d from offset %d", len(header), tt.header, tt.off)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("stretches\n got %+v\nwant %+v", got, tt.want)
			}
			covered := int64(len(header))
			for _, s := range got {
				covered += s.Length
			}
			if covered != tt.n {
				t.Errorf("header and stretches cover %d bytes of the Piece's %d", covered, tt.n)
			}
		})
	}
}
