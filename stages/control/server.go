// Package control holds the control session: the one connection that starts the non-exclusive
// backup, keeps it alive for the whole run, and stops it. PostgreSQL ties a non-exclusive backup
// to the session that started it: if this connection drops, the server aborts the backup.
package control

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Server is what pgpull needs to know about the cluster it copies.
type Server struct {
	VersionNum       int    // server_version_num, e.g. 150018
	CatalogVersion   int64  // names tablespace directories: PG_15_202209061
	SystemID         uint64 // goes into version 2 manifests
	DataChecksums    bool
	WALSegmentSize   int64
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
	var checksums, walLevel, dirMode string
	var segSize, sysID int64
	err := conn.QueryRow(ctx, `
		SELECT current_setting('server_version_num')::int,
		       (SELECT catalog_version_no FROM pg_control_system()),
		       (SELECT system_identifier FROM pg_control_system()),
		       current_setting('data_checksums'),
		       current_setting('wal_level'),
		       (SELECT setting::int8 FROM pg_settings WHERE name = 'wal_segment_size'),
		       (SELECT blocks_per_segment FROM pg_control_init()),
		       pg_is_in_recovery(),
		       current_setting('data_directory_mode')`).Scan(
		&s.VersionNum, &s.CatalogVersion, &sysID, &checksums, &walLevel,
		&segSize, &s.BlocksPerSegment, &s.InRecovery, &dirMode)
	if err != nil {
		return s, fmt.Errorf("reading server settings: %w", err)
	}
	if err := CheckSupported(s.VersionNum, walLevel); err != nil {
		return s, err
	}
	s.SystemID = uint64(sysID)
	s.DataChecksums = checksums == "on"
	s.WALSegmentSize = segSize
	m, err := strconv.ParseUint(dirMode, 8, 32)
	if err != nil {
		m = 0o700
	}
	s.DirMode = os.FileMode(m)
	if s.Major() < 15 {
		if err := conn.QueryRow(ctx, `SELECT current_setting('stats_temp_directory')`).Scan(&s.StatsTempDir); err != nil {
			return s, fmt.Errorf("reading stats_temp_directory: %w", err)
		}
	}
	return s, nil
}
