package pgformat

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/pgpull/pgpull/internal/fixture"
)

// pageFixture (testdata/page/heap_block1.page at the module root) is a real heap page saved from a
// cluster by stages/verify's TestPageChecksumsMatchPostgres -update, so the table tests can check
// PageChecksum against PostgreSQL without a server.
var pageFixture = []string{"page", "heap_block1.page"}

const pageFixtureBlock = 1

// naivePageChecksum follows the facts file's description word by word, with no tricks, as an
// independent check of the unrolled PageChecksum.
func naivePageChecksum(page []byte, blkno uint32) uint16 {
	sums := checksumBaseOffsets
	mix := func(k int, w uint32) {
		t := sums[k] ^ w
		sums[k] = t*fnvPrime ^ t>>17
	}
	for i := 0; i < BlockSize/rowBytes; i++ {
		for k := 0; k < checksumLanes; k++ {
			off := 4 * (checksumLanes*i + k)
			w := binary.LittleEndian.Uint32(page[off:])
			if off == offChecksum {
				w &^= 0xFFFF // pd_checksum counts as zero
			}
			mix(k, w)
		}
	}
	for range 2 {
		for k := range sums {
			mix(k, 0)
		}
	}
	var r uint32
	for _, s := range sums {
		r ^= s
	}
	r ^= blkno
	return uint16(r%65535 + 1)
}

// makePage builds a checked page: pd_upper set, pd_lsn lsn, random body, and a correct checksum.
func makePage(rng *rand.Rand, blkno uint32, lsn uint64) []byte {
	page := make([]byte, BlockSize)
	for i := range page {
		page[i] = byte(rng.Uint32())
	}
	binary.LittleEndian.PutUint32(page[offLSNHigh:], uint32(lsn>>32))
	binary.LittleEndian.PutUint32(page[offLSNLow:], uint32(lsn))
	binary.LittleEndian.PutUint16(page[offUpper:], 4096)
	binary.LittleEndian.PutUint16(page[offChecksum:], PageChecksum(page, blkno))
	return page
}

func TestPageChecksumFixture(t *testing.T) {
	page, err := os.ReadFile(fixture.Path(pageFixture...))
	if err != nil {
		t.Fatalf("%v (regenerate with go test -run TestPageChecksumsMatchPostgres -update)", err)
	}
	stored := binary.LittleEndian.Uint16(page[offChecksum:])
	tests := []struct {
		name  string
		page  func() []byte
		blkno uint32
		match bool
	}{
		{"as written by PostgreSQL", func() []byte { return page }, pageFixtureBlock, true},
		{"stored checksum ignored", func() []byte {
			p := slices.Clone(page)
			binary.LittleEndian.PutUint16(p[offChecksum:], ^stored)
			return p
		}, pageFixtureBlock, true},
		{"other block number", func() []byte { return page }, pageFixtureBlock + 1, false},
		{"same page in segment 1", func() []byte { return page }, pageFixtureBlock + DefaultBlocksPerSegment, false},
		{"one bit flipped", func() []byte {
			p := slices.Clone(page)
			p[BlockSize-1] ^= 1
			return p
		}, pageFixtureBlock, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PageChecksum(tt.page(), tt.blkno)
			if (got == stored) != tt.match {
				t.Errorf("PageChecksum = %04X, stored %04X, want match %v", got, stored, tt.match)
			}
		})
	}
}

func TestPageChecksumMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	page := make([]byte, BlockSize)
	for _, blkno := range []uint32{0, 1, 7, 393221, math.MaxUint32} {
		for i := range page {
			page[i] = byte(rng.Uint32())
		}
		if got, want := PageChecksum(page, blkno), naivePageChecksum(page, blkno); got != want {
			t.Errorf("block %d: PageChecksum %04X, naive %04X", blkno, got, want)
		}
		if PageChecksum(page, blkno) == 0 {
			t.Errorf("block %d: checksum 0", blkno)
		}
	}
}

func TestCheckPages(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const (
		startLSN = 0x1_0000_0000
		perSeg   = 1000
	)
	// relation builds the pages of segment seg: blocks in file 0..n-1.
	relation := func(seg, n int) []byte {
		var b []byte
		for i := 0; i < n; i++ {
			b = append(b, makePage(rng, uint32(seg*perSeg+i), startLSN-1)...)
		}
		return b
	}
	corrupt := func(b []byte, block int) []byte { b[block*BlockSize+100] ^= 0x55; return b }
	newPage := func(b []byte, block int) []byte {
		binary.LittleEndian.PutUint16(b[block*BlockSize+offUpper:], 0)
		b[block*BlockSize+200] ^= 1 // not all zeros, still new
		return b
	}
	recent := func(b []byte, block int) []byte {
		binary.LittleEndian.PutUint32(b[block*BlockSize+offLSNHigh:], 1) // pd_lsn = startLSN
		binary.LittleEndian.PutUint32(b[block*BlockSize+offLSNLow:], 0)
		b[block*BlockSize+300] ^= 1
		return b
	}
	tests := []struct {
		name    string
		data    []byte
		offset  int64
		segment int
		want    []uint32
	}{
		{"all good", relation(0, 4), 0, 0, nil},
		{"one bad", corrupt(relation(0, 4), 2), 0, 0, []uint32{2}},
		{"bad in segment 3", corrupt(relation(3, 4), 1), 0, 3, []uint32{3*perSeg + 1}},
		{"new page skipped", newPage(relation(0, 3), 1), 0, 0, nil},
		{"page at start LSN skipped", recent(relation(0, 3), 0), 0, 0, nil},
		{"not a relation file", corrupt(relation(0, 2), 0), 0, -1, nil},
		{"trailing partial page ignored", append(corrupt(relation(0, 2), 1), make([]byte, 100)...), 0, 0, []uint32{1}},
		{"data read at block 2", corrupt(relation(0, 4)[2*BlockSize:], 1), 2 * BlockSize, 0, []uint32{3}},
		{"unaligned start skips to next page", corrupt(relation(0, 3), 2)[BlockSize-10:], BlockSize - 10, 0, []uint32{2}},
		{"short data", make([]byte, 100), 0, 0, nil},
		{"empty", nil, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckPages(tt.data, tt.offset, tt.segment, perSeg, startLSN)
			if !slices.Equal(got, tt.want) {
				t.Errorf("CheckPages = %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkCheckPages(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	var data []byte
	for i := 0; i < 128; i++ { // 1 MiB
		data = append(data, makePage(rng, uint32(i), 1)...)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if bad := CheckPages(data, 0, 0, 0, math.MaxUint64); bad != nil {
			b.Fatal(bad)
		}
	}
}
