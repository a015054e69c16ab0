package pgformat

import "encoding/binary"

// BlockSize is PostgreSQL's page size (BLCKSZ). Clusters built with another size are not supported.
const BlockSize = 8192

// DefaultBlocksPerSegment is RELSEG_SIZE for 8 KiB pages and 1 GiB segments, what
// pg_control_init().blocks_per_segment reports on a default build.
const DefaultBlocksPerSegment = 131072

// checksumLanes is the number of FNV lanes the algorithm runs side by side; changing it changes
// every checksum, so it is part of the format.
const checksumLanes = 32

const fnvPrime = 16777619

// checksumBaseOffsets are the lanes' starting states, from PostgreSQL's checksum_impl.h.
var checksumBaseOffsets = [checksumLanes]uint32{
	0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A,
	0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
	0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA,
	0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
	0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE,
	0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
	0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E,
	0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756,
}

// Page header fields used here (bufpage.h), in the server's native byte order, little-endian
// on the x86 and ARM machines this tool supports.
const (
	offLSNHigh  = 0
	offLSNLow   = 4
	offChecksum = 8
	offUpper    = 14
)

// rowBytes is one row of the page seen as rows of 32 uint32 words, one word per lane.
const rowBytes = 4 * checksumLanes

// PageFailure is a page whose stored checksum does not match its contents.
type PageFailure struct {
	Path string
	// Block is the page's block number in the relation (block in this segment file plus
	// segment × blocks per segment), the number mixed into the checksum. PostgreSQL's warnings
	// and pg_checksums print the block within the segment file instead.
	Block    uint32
	Computed uint16
	Stored   uint16
}

// PageChecksum computes the checksum PostgreSQL stores in pd_checksum for an 8 KiB page at
// relation block blkno. The stored checksum bytes themselves are treated as zero. page must hold
// at least BlockSize bytes; only the first BlockSize are read.
func PageChecksum(page []byte, blkno uint32) uint16 {
	p := (*[BlockSize]byte)(page)
	r := checksumBlock(p) ^ blkno
	// Reduce modulo 2^16-1 and add one so that a checksum is never zero.
	return uint16(r%65535 + 1)
}

// checksumBlock runs the 32 FNV-1a-like lanes over the page's rows (word k of each row feeds lane
// k), two more rounds of zeros, and xor-folds the lanes.
func checksumBlock(p *[BlockSize]byte) uint32 {
	sums := checksumBaseOffsets

	// Row 0 holds pd_checksum, which must count as zero: mix a copy with those bytes cleared.
	var first [rowBytes]byte
	copy(first[:], p[:rowBytes])
	first[offChecksum], first[offChecksum+1] = 0, 0
	mixRows(&sums, first[:])
	mixRows(&sums, p[rowBytes:])
	for range 2 {
		for k := range sums {
			t := sums[k]
			sums[k] = t*fnvPrime ^ t>>17
		}
	}
	var r uint32
	for _, s := range sums {
		r ^= s
	}
	return r
}

// mixRowsGeneric folds whole rows into the lanes, one at a time.
func mixRowsGeneric(sums *[checksumLanes]uint32, rows []byte) {
	for off := 0; off+rowBytes <= len(rows); off += rowBytes {
		mixRow(sums, (*[rowBytes]byte)(rows[off:off+rowBytes]))
	}
}

// mixRow folds one row into the lanes. The fixed-size array types let the compiler drop every
// bounds check and unroll the lane loop.
func mixRow(sums *[checksumLanes]uint32, row *[rowBytes]byte) {
	for k := 0; k < checksumLanes; k++ {
		t := sums[k] ^ binary.LittleEndian.Uint32(row[4*k:])
		sums[k] = t*fnvPrime ^ t>>17
	}
}

// PageLSN is the page's pd_lsn.
func PageLSN(page []byte) uint64 {
	return uint64(binary.LittleEndian.Uint32(page[offLSNHigh:]))<<32 |
		uint64(binary.LittleEndian.Uint32(page[offLSNLow:]))
}

// CheckPage checks one page as pg_basebackup does: new pages (pd_upper zero) and pages written
// since the backup started (pd_lsn ≥ startLSN, which WAL replay will restore) pass unchecked;
// otherwise the stored checksum must match. computed and stored are set when checked is true.
// A caller that can re-read the block should do so once on a failure, as the server does, since
// a page written during the read may come back torn.
func CheckPage(page []byte, blkno uint32, startLSN uint64) (ok, checked bool, computed, stored uint16) {
	page = page[:BlockSize]
	if binary.LittleEndian.Uint16(page[offUpper:]) == 0 || PageLSN(page) >= startLSN {
		return true, false, 0, 0
	}
	computed = PageChecksum(page, blkno)
	stored = binary.LittleEndian.Uint16(page[offChecksum:])
	return computed == stored, true, computed, stored
}

// CheckPages checks every whole page of data, which was read at fileOffset of segment file
// segment (the ".N" suffix, 0 for the first file) of a relation, and returns the relation block
// numbers (block in file + segment × blocksPerSegment) that fail. blocksPerSegment 0 means
// DefaultBlocksPerSegment. A negative segment means the file has no page checksums. Bytes before
// the first page boundary and after the last whole page are not checked.
func CheckPages(data []byte, fileOffset int64, segment int, blocksPerSegment uint32, startLSN uint64) []uint32 {
	var blocks []uint32
	for _, f := range AppendPageFailures(nil, "", data, fileOffset, segment, blocksPerSegment, startLSN) {
		blocks = append(blocks, f.Block)
	}
	return blocks
}

// AppendPageFailures is CheckPages reporting each failure in full, appended to dst.
func AppendPageFailures(dst []PageFailure, path string, data []byte, fileOffset int64, segment int, blocksPerSegment uint32, startLSN uint64) []PageFailure {
	if segment < 0 || fileOffset < 0 {
		return dst
	}
	if blocksPerSegment == 0 {
		blocksPerSegment = DefaultBlocksPerSegment
	}
	if skip := (BlockSize - fileOffset%BlockSize) % BlockSize; skip > 0 {
		if skip >= int64(len(data)) {
			return dst
		}
		data = data[skip:]
		fileOffset += skip
	}
	blkno := uint32(fileOffset/BlockSize) + uint32(segment)*blocksPerSegment
	for ; len(data) >= BlockSize; data, blkno = data[BlockSize:], blkno+1 {
		if ok, _, computed, stored := CheckPage(data, blkno, startLSN); !ok {
			dst = append(dst, PageFailure{Path: path, Block: blkno, Computed: computed, Stored: stored})
		}
	}
	return dst
}
