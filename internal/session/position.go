package session

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// WrittenLSN is how far the server has written WAL into pg_wal: segments before it are finished.
// A primary's is its write position. A standby has none (pg_current_wal_lsn fails in recovery):
// there it is the further of what it received by streaming and what it replayed, the replay point
// alone when it restores from an archive and receives nothing.
func WrittenLSN(ctx context.Context, conn *pgx.Conn) (pgformat.LSN, error) {
	const q = `SELECT CASE WHEN pg_is_in_recovery()
		THEN greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
		ELSE pg_current_wal_lsn() END::text`
	var txt *string
	if err := conn.QueryRow(ctx, q).Scan(&txt); err != nil {
		return 0, fmt.Errorf("reading the WAL position: %w", err)
	}
	if txt == nil {
		return 0, fmt.Errorf("reading the WAL position: the standby reports neither a receive nor a replay position")
	}
	return pgformat.ParseLSN(*txt)
}
