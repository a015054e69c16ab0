package pgformat

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

func TestControlCRCValid(t *testing.T) {
	// PostgreSQL 15 keeps the CRC at byte 296 of the control file; other versions near it.
	build := func(crcAt int) []byte {
		data := make([]byte, ControlFileSize)
		for i := range crcAt {
			data[i] = byte(i*7 + 3)
		}
		binary.LittleEndian.PutUint32(data[crcAt:], crc32.Checksum(data[:crcAt], crc32.MakeTable(crc32.Castagnoli)))
		return data
	}
	for _, at := range []int{240, 296, 304} {
		good := build(at)
		if !ControlCRCValid(good) {
			t.Errorf("CRC at %d not found", at)
		}
		torn := append([]byte(nil), good...)
		torn[100] ^= 0xff // as if one sector came from a newer write
		if ControlCRCValid(torn) {
			t.Errorf("a torn control file with its CRC at %d passed", at)
		}
	}
}
