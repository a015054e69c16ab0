package session

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// pgControlReads bounds the reads of global/pg_control that may catch the server rewriting it.
const pgControlReads = 5

// ReadPgControl reads global/pg_control whole and checks its CRC, reading again when the read
// caught the server rewriting it: the server writes it in place, atomically only per 512-byte
// sector, so a read can see half of an update.
func ReadPgControl(ctx context.Context, conn *pgx.Conn) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		data, _, err := ReadFile(ctx, conn, "global/pg_control", 8192, false)
		if err != nil {
			return nil, err
		}
		if len(data) == pgformat.ControlFileSize && pgformat.ControlCRCValid(data) {
			return data, nil
		}
		if attempt == pgControlReads {
			return nil, fmt.Errorf("global/pg_control read %d times without a valid CRC; the server keeps rewriting it, or it is damaged", attempt)
		}
	}
}
