package pgformat

import (
	"encoding/binary"
	"hash/crc32"
)

// ControlFileSize is the size PostgreSQL gives global/pg_control whatever its version.
const ControlFileSize = 8192

// ControlCRCValid reports whether some prefix of the control data is followed by its own
// CRC-32C. The CRC field closes ControlFileData, whose length differs between versions; every
// version puts it within the first 512 bytes, at a 4-byte boundary. The server writes the file in
// place, atomically only per 512-byte sector, so a read that caught it half rewritten fails here.
func ControlCRCValid(data []byte) bool {
	table := crc32.MakeTable(crc32.Castagnoli)
	for n := 16; n+4 <= 512 && n+4 <= len(data); n += 4 {
		if crc32.Checksum(data[:n], table) == binary.LittleEndian.Uint32(data[n:]) {
			return true
		}
	}
	return false
}

// ControlSystemID is the system identifier pg_control opens with, when data is a whole, valid
// control file.
func ControlSystemID(data []byte) (uint64, bool) {
	if len(data) < 8 || !ControlCRCValid(data) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(data), true
}
