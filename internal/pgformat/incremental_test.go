package pgformat

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

// incrementalBytes builds an incremental file by hand, field by field, independently of Bytes:
// the magic, the count, the truncation length, the block numbers, zero padding to padTo bytes and
// the pages (each filled with its block number's low byte plus one).
func incrementalBytes(magic uint32, count int, trunc uint32, blocks []uint32, padTo int, pages int) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(count))
	b = binary.LittleEndian.AppendUint32(b, trunc)
	for _, blk := range blocks {
		b = binary.LittleEndian.AppendUint32(b, blk)
	}
	b = append(b, make([]byte, max(padTo-len(b), 0))...)
	for i := range pages {
		b = append(b, bytes.Repeat([]byte{byte(blocks[i]) + 1}, BlockSize)...)
	}
	return b
}

func TestIncrementalHeaderLayout(t *testing.T) {
	most := make([]uint32, DefaultBlocksPerSegment)
	for i := range most {
		most[i] = uint32(i)
	}
	tests := []struct {
		name       string
		h          IncrementalHeader
		headerSize int64
		blockLen   uint32
	}{
		// No pages: the header stays 12 bytes, as the server writes an unchanged segment.
		{"no blocks", IncrementalHeader{TruncationBlockLength: 7}, 12, 7},
		{"one block", IncrementalHeader{Blocks: []uint32{3}, TruncationBlockLength: 10}, BlockSize, 10},
		// A block past the truncation length lengthens the reconstructed segment.
		{"block past truncation", IncrementalHeader{Blocks: []uint32{2, 12}, TruncationBlockLength: 5}, BlockSize, 13},
		// 2045 block numbers fill one block exactly (12 + 4*2045 = 8192); one more needs two.
		{"header fills a block", IncrementalHeader{Blocks: most[:2045], TruncationBlockLength: 2045}, BlockSize, 2045},
		{"header spills", IncrementalHeader{Blocks: most[:2046], TruncationBlockLength: 3000}, 2 * BlockSize, 3000},
		{"whole segment", IncrementalHeader{Blocks: most, TruncationBlockLength: DefaultBlocksPerSegment}, 65 * BlockSize, DefaultBlocksPerSegment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.h.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tt.h.HeaderSize(); got != tt.headerSize {
				t.Errorf("HeaderSize = %d, want %d", got, tt.headerSize)
			}
			if got, want := tt.h.FileSize(), tt.headerSize+int64(len(tt.h.Blocks))*BlockSize; got != want {
				t.Errorf("FileSize = %d, want %d", got, want)
			}
			if got := tt.h.BlockLength(); got != tt.blockLen {
				t.Errorf("BlockLength = %d, want %d", got, tt.blockLen)
			}
			want := incrementalBytes(IncrementalMagic, len(tt.h.Blocks), tt.h.TruncationBlockLength, tt.h.Blocks, int(tt.headerSize), 0)
			if got := tt.h.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("Bytes differ from the hand-built header (%d bytes, want %d)", len(got), len(want))
			}
		})
	}
}

func TestIncrementalRoundTrip(t *testing.T) {
	h := IncrementalHeader{Blocks: []uint32{0, 5, 9, 130000}, TruncationBlockLength: 20}
	var buf bytes.Buffer
	w, err := NewIncrementalWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range h.Blocks {
		if err := w.WritePage(bytes.Repeat([]byte{byte(b) + 1}, BlockSize)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if want := incrementalBytes(IncrementalMagic, 4, 20, h.Blocks, BlockSize, 4); !bytes.Equal(buf.Bytes(), want) {
		t.Fatal("written file differs from the hand-built one")
	}
	if int64(buf.Len()) != h.FileSize() {
		t.Fatalf("wrote %d bytes, FileSize says %d", buf.Len(), h.FileSize())
	}
	f, err := OpenIncremental(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Blocks, h.Blocks) || f.TruncationBlockLength != h.TruncationBlockLength {
		t.Fatalf("read back %+v, want %+v", f.IncrementalHeader, h)
	}
	page := make([]byte, BlockSize)
	for _, b := range []uint32{0, 1, 5, 9, 10, 130000, 130001} {
		held := slices.Contains(h.Blocks, b)
		ok, err := f.ReadPage(b, page)
		if err != nil || ok != held {
			t.Fatalf("ReadPage(%d) = %v, %v; want %v", b, ok, err, held)
		}
		if held && (page[0] != byte(b)+1 || page[BlockSize-1] != byte(b)+1) {
			t.Errorf("ReadPage(%d) read another block's page (starts %d)", b, page[0])
		}
	}
}

func TestIncrementalWriterMisuse(t *testing.T) {
	h := IncrementalHeader{Blocks: []uint32{1}, TruncationBlockLength: 2}
	w, err := NewIncrementalWriter(&bytes.Buffer{}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close with a page missing passed")
	}
	if err := w.WritePage(make([]byte, 100)); err == nil {
		t.Error("a short page was written")
	}
	if err := w.WritePage(make([]byte, BlockSize)); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePage(make([]byte, BlockSize)); err == nil {
		t.Error("a page past the header's was written")
	}
	if _, err := NewIncrementalWriter(&bytes.Buffer{}, IncrementalHeader{Blocks: []uint32{4, 4}}); err == nil {
		t.Error("a header with a repeated block was written")
	}
}

func TestOpenIncrementalRefuses(t *testing.T) {
	good := func() []byte { return incrementalBytes(IncrementalMagic, 2, 8, []uint32{1, 6}, BlockSize, 2) }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"bad magic", incrementalBytes(0x0d1faed3, 0, 8, nil, 0, 0), "magic number"},
		{"count over a segment", incrementalBytes(IncrementalMagic, DefaultBlocksPerSegment+1, 8, nil, 0, 0), "block count"},
		{"truncation over a segment", incrementalBytes(IncrementalMagic, 0, DefaultBlocksPerSegment+1, nil, 0, 0), "truncation block length"},
		{"block numbers cut short", incrementalBytes(IncrementalMagic, 3, 8, []uint32{1, 2}, 0, 0), "too short"},
		{"descending", incrementalBytes(IncrementalMagic, 2, 8, []uint32{6, 1}, BlockSize, 2), "not ascending"},
		{"block past a segment", incrementalBytes(IncrementalMagic, 1, 8, []uint32{DefaultBlocksPerSegment}, BlockSize, 1), "past the segment"},
		{"padding cut short", good()[:100], "too short"},
		{"last page cut short", good()[:len(good())-1], "bytes, but its header names 2 pages"},
		{"bytes after the last page", append(good(), 0), "bytes, but its header names 2 pages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenIncremental(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func FuzzParseIncremental(f *testing.F) {
	f.Add(incrementalBytes(IncrementalMagic, 0, 3, nil, 0, 0))
	f.Add(incrementalBytes(IncrementalMagic, 2, 8, []uint32{1, 6}, BlockSize, 2))
	f.Add(incrementalBytes(IncrementalMagic, 1, 0, []uint32{0}, 16, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := OpenIncremental(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		// Whatever opens is a valid header whose rendering is the file's own first bytes, and
		// whose every page reads back from where the header puts it.
		if err := file.Validate(); err != nil {
			t.Fatalf("opened an invalid header: %v", err)
		}
		hdr := file.Bytes()
		if int64(len(hdr)) != file.HeaderSize() || !bytes.Equal(hdr[:12+4*len(file.Blocks)], data[:12+4*len(file.Blocks)]) {
			t.Fatal("the header renders differently from the file it was read from")
		}
		page := make([]byte, BlockSize)
		for i, b := range file.Blocks {
			ok, err := file.ReadPage(b, page)
			if !ok || err != nil {
				t.Fatalf("block %d: ReadPage = %v, %v", b, ok, err)
			}
			off := file.HeaderSize() + int64(i)*BlockSize
			if !bytes.Equal(page, data[off:off+BlockSize]) {
				t.Fatalf("block %d: page read from the wrong place", b)
			}
		}
	})
}
