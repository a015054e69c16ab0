package backup

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/jackc/pgx/v5"
)

// pgControlSize is the size PostgreSQL gives global/pg_control whatever its version.
const pgControlSize = 8192

// readPgControl reads global/pg_control whole and checks its CRC, reading again when the read
// caught the server rewriting it: the server writes it in place, atomically only per 512-byte
// sector, so a read can see half of an update.
func readPgControl(ctx context.Context, conn *pgx.Conn, logSQL func(string)) ([]byte, error) {
	const q = `SELECT pg_read_binary_file('global/pg_control', 0, 8192, false)`
	for attempt := 1; ; attempt++ {
		logSQL(q)
		var data []byte
		if err := conn.QueryRow(ctx, q).Scan(&data); err != nil {
			return nil, fmt.Errorf("reading global/pg_control: %w", err)
		}
		if len(data) == pgControlSize && controlCRCValid(data) {
			return data, nil
		}
		if attempt == 5 {
			return nil, fmt.Errorf("global/pg_control read %d times without a valid CRC; the server keeps rewriting it, or it is damaged", attempt)
		}
	}
}

// controlCRCValid reports whether some prefix of the control data is followed by its own
// CRC-32C. The CRC field closes ControlFileData, whose length differs between versions; every
// version puts it within the first 512 bytes, at a 4-byte boundary.
func controlCRCValid(data []byte) bool {
	table := crc32.MakeTable(crc32.Castagnoli)
	for n := 16; n+4 <= 512 && n+4 <= len(data); n += 4 {
		if crc32.Checksum(data[:n], table) == binary.LittleEndian.Uint32(data[n:]) {
			return true
		}
	}
	return false
}
