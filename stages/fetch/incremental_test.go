package fetch

import (
	"bytes"
	"context"
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/pipeline"
)

// TestWorkerReadsIncremental: Pieces of INCREMENTAL files, in one Request with a whole file,
// come back as the format lays them out (header, then the named blocks in order), whether the
// file is cut into Pieces or not; a relation file gone from the server marks its Piece Missing,
// and one that shrank leaves zeros where its blocks were.
func TestWorkerReadsIncremental(t *testing.T) {
	const bs = pgformat.BlockSize
	relation := testFile(40 * bs)
	s := newFakeServer(map[string][]byte{"base/5/16384": relation, "base/5/16390": relation[:3*bs], "base/5/small": relation[:5000]})
	w, _ := newTestWorker(s, 0)
	incremental := func(source string, blocks ...uint32) *pipeline.File {
		h := &pgformat.IncrementalHeader{Blocks: blocks, TruncationBlockLength: 40}
		return &pipeline.File{Path: "base/5/INCREMENTAL." + source[7:], Source: source, Size: h.FileSize(), Incremental: h, Segment: -1}
	}
	want := func(f *pipeline.File, data []byte) []byte {
		out := f.Incremental.Bytes()
		for _, b := range f.Incremental.Blocks {
			page := make([]byte, bs)
			copy(page, data[min(int64(b)*bs, int64(len(data))):min(int64(b+1)*bs, int64(len(data)))])
			out = append(out, page...)
		}
		return out
	}
	cut := incremental("base/5/16384", 1, 2, 3, 17, 30, 31)
	shrunk := incremental("base/5/16390", 2, 3, 4)
	gone := incremental("base/5/16999", 7)
	whole := &pipeline.File{Path: "base/5/small", Source: "base/5/small", Size: 5000, Segment: -1}
	half := cut.Size / 2
	r := &pipeline.Request{Pieces: []*pipeline.Piece{
		{File: cut, Offset: 0, Length: half}, {File: cut, Offset: half, Length: cut.Size - half},
		{File: shrunk, Length: shrunk.Size}, {File: gone, Length: gone.Size}, {File: whole, Length: whole.Size}}}
	done, err := runWorker(context.Background(), w, r)
	if err != nil {
		t.Fatal(err)
	}
	p := done[0].Pieces
	if got := append(bytes.Clone(p[0].Data), p[1].Data...); !bytes.Equal(got, want(cut, relation)) {
		t.Errorf("INCREMENTAL file in two Pieces: %d bytes, not the header and blocks %v", len(got), cut.Incremental.Blocks)
	}
	if !bytes.Equal(p[2].Data, want(shrunk, relation[:3*bs])) || p[2].Missing {
		t.Errorf("INCREMENTAL file of a shrunk relation: want its blocks past the end as zeros")
	}
	if !p[3].Missing {
		t.Errorf("INCREMENTAL file of a relation gone from the server: not marked Missing")
	}
	if !bytes.Equal(p[4].Data, relation[:5000]) {
		t.Errorf("whole file beside INCREMENTAL ones: %d bytes, want 5000", len(p[4].Data))
	}
}

// TestWorkerReadsListed: in a refresh whose changed blocks are known, the blocks marked Moved
// are the server's afterwards and the others stay the copy's; a block the server no longer has
// (the file shrank) turns to zeros.
func TestWorkerReadsListed(t *testing.T) {
	const bs = pipeline.DeltaBlock
	server := testFile(6 * bs)
	s := newFakeServer(map[string][]byte{"base/5/16384": server})
	w, _ := newTestWorker(s, 0)
	local := bytes.Repeat([]byte{'L'}, 8*bs)
	moved := []bool{false, true, true, false, true, false, false, true} // block 7 is past the server's end
	f := &pipeline.File{Path: "base/5/16384", Source: "base/5/16384", Size: 8 * bs, Segment: -1}
	p := &pipeline.Piece{File: f, Length: 8 * bs, Data: bytes.Clone(local), Delta: &pipeline.Delta{Listed: true, Moved: moved}}
	if _, err := runWorker(context.Background(), w, &pipeline.Request{Pieces: []*pipeline.Piece{p}}); err != nil {
		t.Fatal(err)
	}
	for i, m := range moved {
		want := local[i*bs : (i+1)*bs]
		switch {
		case m && i < 6:
			want = server[i*bs : (i+1)*bs]
		case m:
			want = make([]byte, bs)
		}
		if !bytes.Equal(p.Data[i*bs:(i+1)*bs], want) {
			t.Errorf("block %d (moved %v): not what it should hold", i, m)
		}
	}
}
