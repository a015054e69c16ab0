package pgformat

import (
	"encoding/binary"
	"hash/crc32"
)

// WALRecordHeaderSize is SizeOfXLogRecord: the fixed header every WAL record starts with.
const WALRecordHeaderSize = 24

// walRecordMaxSize is XLogRecordMaxSize (1020 MiB), the largest record PostgreSQL 16+ writes;
// older versions could not write larger ones either, as a record is assembled in one allocation.
const walRecordMaxSize = 1020 << 20

// walAlign is MAXALIGN on 64-bit platforms: records start on multiples of it.
const walAlign = 8

func walAligned(n int64) int64 { return (n + walAlign - 1) &^ (walAlign - 1) }

// Resource manager 0 (XLOG) record kinds the checker needs, in the high four bits of xl_info.
const (
	walRmgrXLOG    = 0
	walInfoSwitch  = 0x40 // XLOG_SWITCH: the rest of the segment is unused
	walInfoRmgrMsk = 0xF0
)

// WALRecordHeader is the fixed header of a WAL record (XLogRecord).
type WALRecordHeader struct {
	TotLen uint32 // the whole record, this header included
	XID    uint32
	Prev   LSN // where the previous record starts
	Info   uint8
	RmID   uint8
	CRC    uint32
}

// ParseWALRecordHeader reads the header at the start of b, which must hold WALRecordHeaderSize
// bytes.
func ParseWALRecordHeader(b []byte) WALRecordHeader {
	le := binary.LittleEndian
	return WALRecordHeader{
		TotLen: le.Uint32(b[0:]),
		XID:    le.Uint32(b[4:]),
		Prev:   LSN(le.Uint64(b[8:])),
		Info:   b[16],
		RmID:   b[17],
		CRC:    le.Uint32(b[20:]),
	}
}

// Switch reports whether the record is an XLOG_SWITCH, after which the segment holds no more WAL.
func (h *WALRecordHeader) Switch() bool {
	return h.RmID == walRmgrXLOG && h.Info&walInfoRmgrMsk == walInfoSwitch
}

// WALRecordCRC is the CRC-32C a record's header must carry, given the record reassembled without
// page headers. PostgreSQL sums the data after the header first and then the header up to the
// CRC field, padding bytes included.
func WALRecordCRC(record []byte) uint32 {
	tab := crc32.MakeTable(crc32.Castagnoli)
	crc := crc32.Update(0, tab, record[WALRecordHeaderSize:])
	return crc32.Update(crc, tab, record[:20])
}
