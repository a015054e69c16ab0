package manifest

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestCRCPatch: the CRC-32C patched with the changed blocks alone is the one computed over the
// whole new file, wherever the changes fall.
func TestCRCPatch(t *testing.T) {
	const block = 8192
	tests := []struct {
		name          string
		size, newSize int
		changed       []int // block numbers; every block from size on must be among them
	}{
		{"none", 5 * block, 5 * block, nil},
		{"first", 5 * block, 5 * block, []int{0}},
		{"last", 5 * block, 5 * block, []int{4}},
		{"a run and a gap", 9 * block, 9 * block, []int{1, 2, 3, 7}},
		{"every block", 4 * block, 4 * block, []int{0, 1, 2, 3}},
		{"short last block", 3*block + 100, 3*block + 100, []int{1, 3}},
		{"far apart", 131072 * 8, 131072 * 8, []int{0, 131071}}, // 8-byte blocks over 1 MiB below
		{"grew", 3 * block, 5 * block, []int{1, 3, 4}},
		{"grew from nothing", 0, 2 * block, []int{0, 1}},
		{"grew within its last block", 2*block + 100, 3 * block, []int{2}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := block
			if tt.name == "far apart" {
				bs = 8
			}
			old := make([]byte, tt.newSize) // zeros from size on
			for i := range tt.size {
				old[i] = byte(rng.Uint32())
			}
			updated := bytes.Clone(old)
			var p CRCPatch
			for _, b := range tt.changed {
				lo, hi := b*bs, min((b+1)*bs, tt.newSize)
				for i := lo; i < hi; i++ {
					updated[i] = byte(rng.Uint32())
				}
				p.Change(int64(lo), int64(hi-lo), RawCRC32C(old[lo:hi]), RawCRC32C(updated[lo:hi]))
			}
			got := p.Sum(nil, sum(CRC32C, old[:tt.size]), int64(tt.size), int64(tt.newSize))
			if want := sum(CRC32C, updated); !bytes.Equal(got, want) {
				t.Errorf("patched CRC-32C %x, computed over the new bytes %x", got, want)
			}
		})
	}
}

func sum(a Algorithm, b []byte) []byte {
	h := a.New()
	h.Write(b)
	return h.Sum(nil)
}
