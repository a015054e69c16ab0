package walfeed

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// slot is a physical replication slot that keeps the server from removing WAL the feed has not
// yet made durable in its directory. It is permanent, not temporary, so that it holds WAL while
// the feed is stopped too: that is what lets a restart resume without a gap.
type slot struct {
	conn    *pgx.Conn
	name    string
	restart pgformat.LSN // the slot's restart point: WAL from here on is kept
}

// holdSlot finds the physical slot name, or creates it reserving WAL from now on.
func holdSlot(ctx context.Context, conn *pgx.Conn, name string) (*slot, error) {
	s := &slot{conn: conn, name: name}
	role, may, err := roleReplication(ctx, conn)
	if err != nil {
		return nil, err
	}
	if !may {
		return nil, fmt.Errorf("--slot needs a role with REPLICATION: have a superuser run ALTER ROLE %s REPLICATION "+
			"(the optional line of pgpull grants), or run without --slot with wal_keep_size as pgpull wal advises", role)
	}
	q := `SELECT slot_type, temporary, restart_lsn::text FROM pg_replication_slots WHERE slot_name = $1`
	var kind string
	var temporary bool
	var restart *string
	err = conn.QueryRow(ctx, q, name).Scan(&kind, &temporary, &restart)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		q = `SELECT lsn::text FROM pg_create_physical_replication_slot($1, true, false)`
		if err := conn.QueryRow(ctx, q, name).Scan(&restart); err != nil {
			return nil, fmt.Errorf("creating replication slot %s: %w", name, err)
		}
	case err != nil:
		return nil, fmt.Errorf("looking up replication slot %s: %w", name, err)
	case kind != "physical" || temporary:
		return nil, fmt.Errorf("replication slot %s exists but is not a permanent physical slot; name another with --slot", name)
	}
	if restart == nil {
		return nil, fmt.Errorf("replication slot %s holds no WAL (it lost it to max_slot_wal_keep_size, or never reserved any): "+
			"drop it with SELECT pg_drop_replication_slot('%s'), take a new base backup, and feed an empty directory", name, name)
	}
	lsn, err := pgformat.ParseLSN(*restart)
	if err != nil {
		return nil, err
	}
	s.restart = lsn
	return s, nil
}

// advance lets the server remove WAL before to: everything before it is durable in the
// directory. The server moves the slot no further than it has flushed WAL.
func (s *slot) advance(ctx context.Context, to pgformat.LSN) error {
	if to <= s.restart {
		return nil // pg_replication_slot_advance refuses to move back
	}
	q := `SELECT end_lsn::text FROM pg_replication_slot_advance($1, $2::text::pg_lsn)`
	var end string
	if err := s.conn.QueryRow(ctx, q, s.name, to.String()).Scan(&end); err != nil {
		return fmt.Errorf("advancing replication slot %s to %s: %w", s.name, to, err)
	}
	lsn, err := pgformat.ParseLSN(end)
	if err != nil {
		return err
	}
	s.restart = lsn
	return nil
}

// roleReplication is the session's role, quoted for SQL as pgpull grants quotes it, and whether
// it may use a replication slot (REPLICATION, or a superuser).
func roleReplication(ctx context.Context, conn *pgx.Conn) (role string, may bool, err error) {
	q := `SELECT rolname, rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user`
	if err := conn.QueryRow(ctx, q).Scan(&role, &may); err != nil {
		return "", false, fmt.Errorf("reading the role's attributes: %w", err)
	}
	return pgx.Identifier{role}.Sanitize(), may, nil
}
