package session

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaxRead is the most pg_read_binary_file returns in one call: a bytea's limit, 1 GB less its
// header.
const MaxRead = 1073741819

// ReadFile reads the first n bytes of the file at path (relative to the data directory) in one
// call, with the server's clock at the read; with missingOK a file that is gone reads as nil.
// The fetch stage's reads, ranges in rows and batches of small files, have their own forms in
// stages/fetch/sql.go; every other read of a server file comes through here.
func ReadFile(ctx context.Context, conn *pgx.Conn, path string, n int64, missingOK bool) ([]byte, time.Time, error) {
	return ReadFileAt(ctx, conn, path, 0, n, missingOK)
}

// ReadFileAt is ReadFile from offset on.
func ReadFileAt(ctx context.Context, conn *pgx.Conn, path string, offset, n int64, missingOK bool) ([]byte, time.Time, error) {
	const q = `SELECT clock_timestamp(), pg_read_binary_file($1, $2, $3, $4)`
	var data []byte
	var at time.Time
	if err := conn.QueryRow(ctx, q, path, offset, n, missingOK).Scan(&at, &data); err != nil {
		return nil, at, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, at, nil
}
