package delta

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/pgpull/pgpull/pipeline"
)

// dirCopy is a Copy in a plain directory.
type dirCopy string

func (d dirCopy) Open(f *pipeline.File) (*os.File, error) {
	file, err := os.Open(filepath.Join(string(d), f.Path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return file, err
}

func TestHasher(t *testing.T) {
	dir := t.TempDir()
	local := bytes.Repeat([]byte("abcdefgh"), 2*pipeline.DeltaBlock/8+100) // two blocks and 800 bytes
	if err := os.WriteFile(filepath.Join(dir, "rel"), local, 0o600); err != nil {
		t.Fatal(err)
	}
	file := &pipeline.File{Path: "rel", Source: "rel", Size: 4 * pipeline.DeltaBlock, Segment: -1}
	for _, tc := range []struct {
		name       string
		piece      *pipeline.Piece
		want       []byte // the local bytes the Piece should hold; nil for no Delta
		wantBlocks int
	}{
		{"whole blocks", &pipeline.Piece{File: file, Offset: 0, Length: 2 * pipeline.DeltaBlock}, local[:2*pipeline.DeltaBlock], 2},
		{"past the copy's end: zeros", &pipeline.Piece{File: file, Offset: pipeline.DeltaBlock, Length: 2*pipeline.DeltaBlock + 5},
			append(append([]byte{}, local[pipeline.DeltaBlock:]...), make([]byte, pipeline.DeltaBlock+5-800)...), 3},
		{"beyond the copy: fetched whole", &pipeline.Piece{File: file, Offset: 3 * pipeline.DeltaBlock, Length: pipeline.DeltaBlock}, nil, 0},
		{"no copy", &pipeline.Piece{File: &pipeline.File{Path: "gone", Source: "gone", Size: 10, Segment: -1}, Length: 10}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var compared atomic.Int64
			h := &Hasher{Copy: dirCopy(dir), Budget: pipeline.NewBudget(1<<20, 1<<16), Compared: &compared}
			if err := h.hash(tc.piece); err != nil {
				t.Fatal(err)
			}
			p := tc.piece
			if tc.want == nil {
				if p.Delta != nil || compared.Load() != 0 {
					t.Fatalf("Delta %v, compared %d; want the range fetched whole", p.Delta, compared.Load())
				}
				return
			}
			if p.Delta == nil || !bytes.Equal(p.Data, tc.want) || compared.Load() != p.Length {
				t.Fatalf("Delta %v, %d bytes of Data (equal %v), compared %d", p.Delta, len(p.Data), bytes.Equal(p.Data, tc.want), compared.Load())
			}
			if p.Delta.Blocks() != tc.wantBlocks || len(p.Delta.Sums) != tc.wantBlocks*sha256.Size {
				t.Fatalf("%d blocks, %d bytes of sums; want %d blocks", p.Delta.Blocks(), len(p.Delta.Sums), tc.wantBlocks)
			}
			for i := 0; i < p.Delta.Blocks(); i++ {
				block := tc.want[i*pipeline.DeltaBlock : min((i+1)*pipeline.DeltaBlock, len(tc.want))]
				if sum := sha256.Sum256(block); !bytes.Equal(p.Delta.Sums[i*sha256.Size:(i+1)*sha256.Size], sum[:]) {
					t.Errorf("block %d: sum is not the SHA-256 of the block's local bytes", i)
				}
			}
		})
	}
}

// TestListed: with the changed blocks known, a Piece's Delta marks those of its range, and every
// block the copy does not hold whole, and computes no sums.
func TestListed(t *testing.T) {
	const bs = pipeline.DeltaBlock
	f := &pipeline.File{Path: "rel", Source: "rel", Size: 10 * bs, Changed: []uint32{1, 4, 5, 9}, Segment: -1}
	tests := []struct {
		name     string
		off, n   int64
		copySize int64
		want     []bool
	}{
		{"first blocks", 0, 4 * bs, 10 * bs, []bool{false, true, false, false}},
		{"later range", 4 * bs, 4 * bs, 10 * bs, []bool{true, true, false, false}},
		{"copy shorter", 6 * bs, 4 * bs, 7*bs + 100, []bool{false, true, true, true}},
	}
	for _, tt := range tests {
		p := &pipeline.Piece{File: f, Offset: tt.off, Length: tt.n}
		d := listed(p, int(tt.n/bs), tt.copySize)
		if !d.Listed || d.Sums != nil || !slices.Equal(d.Moved, tt.want) {
			t.Errorf("%s: %+v, want Listed with Moved %v and no sums", tt.name, *d, tt.want)
		}
	}
}
