// Package session is pgpull's side of its server sessions: it opens the run's connections, asks
// the server what the run must know before it starts (version and settings, tablespaces, the
// role's privileges, free connections, pg_control), and holds the control session, the one
// connection that starts the non-exclusive backup, keeps it alive for the whole run, and stops
// it. PostgreSQL ties a non-exclusive backup to the session that started it: if that connection
// drops, the server aborts the backup.
package session

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Server is what pgpull needs to know about the cluster it copies.
type Server struct {
	VersionNum       int    // server_version_num, e.g. 150018
	CatalogVersion   int64  // names tablespace directories: PG_15_202209061
	SystemID         uint64 // goes into version 2 manifests
	DataChecksums    bool
	WALSegmentSize   int64
	WALBlockSize     int // XLOG_BLCKSZ: the WAL page size the server was built with
	BlocksPerSegment uint32
	InRecovery       bool
	DirMode          os.FileMode // data_directory_mode: 0700, or 0750 with group access
	StatsTempDir     string      // 13 and 14 only: its contents are not backed up
}

// Major is the major version: 13, 14, 15, ...
func (s Server) Major() int { return s.VersionNum / 10000 }

// TablespaceDir is the per-version directory PostgreSQL keeps inside each tablespace location.
func (s Server) TablespaceDir() string {
	return fmt.Sprintf("PG_%d_%d", s.Major(), s.CatalogVersion)
}

// FileMode is the mode of regular files in the data directory, following its directory mode.
func (s Server) FileMode() os.FileMode {
	if s.DirMode&0o050 != 0 {
		return 0o640
	}
	return 0o600
}

// Describe reads the facts about the server through conn. They come from functions PUBLIC may
// call, so a backup role needs no extra grant for them.
func Describe(ctx context.Context, conn *pgx.Conn) (Server, error) {
	var s Server
	if err := runSteps(ctx, conn, describeStep(&s)); err != nil {
		return s, err
	}
	if s.Major() < 15 {
		return s, runSteps(ctx, conn, statsTempStep(&s))
	}
	return s, nil
}

const describeSQL = `
		SELECT current_setting('server_version_num')::int,
		       (SELECT catalog_version_no FROM pg_control_system()),
		       (SELECT system_identifier FROM pg_control_system()),
		       current_setting('data_checksums'),
		       current_setting('wal_level'),
		       (SELECT setting::int8 FROM pg_settings WHERE name = 'wal_segment_size'),
		       (SELECT blocks_per_segment FROM pg_control_init()),
		       (SELECT wal_block_size FROM pg_control_init()),
		       pg_is_in_recovery(),
		       current_setting('data_directory_mode')`

// describeStep reads into s all Describe does but StatsTempDir, and refuses a server pgpull
// does not support.
func describeStep(s *Server) step {
	return step{sql: describeSQL, read: func(rows pgx.Rows) error {
		var checksums, walLevel, dirMode string
		var segSize, sysID int64
		err := scanOne(rows, &s.VersionNum, &s.CatalogVersion, &sysID, &checksums, &walLevel,
			&segSize, &s.BlocksPerSegment, &s.WALBlockSize, &s.InRecovery, &dirMode)
		if err != nil {
			return fmt.Errorf("reading server settings: %w", err)
		}
		if err := CheckSupported(s.VersionNum, walLevel); err != nil {
			return err
		}
		s.SystemID = uint64(sysID)
		s.DataChecksums = checksums == "on"
		s.WALSegmentSize = segSize
		m, err := strconv.ParseUint(dirMode, 8, 32)
		if err != nil {
			m = 0o700
		}
		s.DirMode = os.FileMode(m)
		return nil
	}}
}

// statsTempStep reads stats_temp_directory, on 13 and 14. pg_settings hides the row from roles
// outside pg_read_all_settings, where current_setting would fail; the backup's preflight
// refuses such a role with the grant.
func statsTempStep(s *Server) step {
	const q = `SELECT coalesce((SELECT setting FROM pg_settings WHERE name = 'stats_temp_directory'), 'pg_stat_tmp')`
	return step{sql: q, read: func(rows pgx.Rows) error {
		if err := scanOne(rows, &s.StatsTempDir); err != nil {
			return fmt.Errorf("reading stats_temp_directory: %w", err)
		}
		return nil
	}}
}

// Tablespace is one user tablespace: its Location as pg_tablespace_location gives it, which is
// relative (pg_tblspc/<oid>) for one kept inside the data directory.
type Tablespace struct {
	OID      string
	Location string
}

// InPlace reports a tablespace kept inside the data directory: it is copied as an ordinary
// directory, with nowhere else to go.
func (t Tablespace) InPlace() bool { return !strings.HasPrefix(t.Location, "/") }

// tablespacesStep lists the server's user tablespaces, by OID.
func tablespacesStep(spaces *[]Tablespace) step {
	const q = `SELECT oid::text, pg_tablespace_location(oid) FROM pg_tablespace
		WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY oid`
	return step{sql: q, read: func(rows pgx.Rows) error {
		var err error
		*spaces, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tablespace, error) {
			var t Tablespace
			return t, r.Scan(&t.OID, &t.Location)
		})
		if err != nil {
			return fmt.Errorf("listing tablespaces: %w", err)
		}
		return nil
	}}
}

// freeConnectionsSQL counts the client connections the server can still accept from a role that
// is neither a superuser nor a member of pg_use_reserved_connections (16+): max_connections less
// the slots kept for those and the client backends now running.
const freeConnectionsSQL = `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
		- coalesce(current_setting('reserved_connections', true)::int, 0)
		- (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')`

// freeConnectionsStep counts the client connections the server can still accept from a role that
// is not a superuser.
func freeConnectionsStep(free *int) step {
	return step{sql: freeConnectionsSQL, read: func(rows pgx.Rows) error {
		if err := scanOne(rows, free); err != nil {
			return fmt.Errorf("counting free connections: %w", err)
		}
		return nil
	}}
}

// FreeConnectionsOn counts them as Inspect does, on a bare connection, such as a fetch worker's.
func FreeConnectionsOn(ctx context.Context, conn *pgconn.PgConn) (int, error) {
	res := conn.ExecParams(ctx, freeConnectionsSQL, nil, nil, nil, nil).Read()
	if res.Err != nil {
		return 0, fmt.Errorf("counting free connections: %w", res.Err)
	}
	if len(res.Rows) != 1 {
		return 0, fmt.Errorf("counting free connections: %d rows", len(res.Rows))
	}
	free, err := strconv.Atoi(string(res.Rows[0][0]))
	if err != nil {
		return 0, fmt.Errorf("counting free connections: %w", err)
	}
	return free, nil
}
