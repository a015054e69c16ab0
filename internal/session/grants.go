package session

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// StatsRole is the predefined role whose members see every backend's backend_type in
// pg_stat_activity; without it pgpull would count only the role's own connections when it
// checks that the server has room for -j more.
const StatsRole = "pg_read_all_stats"

// Functions are the signatures of the functions pgpull calls that PostgreSQL revokes from
// PUBLIC, on a server of the given major version. Each overload is granted on its own, so the
// list names exactly the ones the stages use: the control session's start and stop, the
// lister's pg_ls_dir and pg_stat_file(text, boolean), the WAL scanner's pg_stat_file(text), and
// the fetch workers' pg_read_binary_file.
func Functions(major int) []string {
	start, stop := "pg_backup_start(text, boolean)", "pg_backup_stop(boolean)"
	if major < 15 {
		start, stop = "pg_start_backup(text, boolean, boolean)", "pg_stop_backup(boolean, boolean)"
	}
	return []string{
		start,
		stop,
		"pg_ls_dir(text, boolean, boolean)",
		"pg_stat_file(text)",
		"pg_stat_file(text, boolean)",
		"pg_read_binary_file(text, bigint, bigint, boolean)",
	}
}

// GrantsSQL is the SQL a superuser runs so that role may take backups with pgpull from a server
// of the given major version, connecting to database. It starts with psql's \connect to that
// database, since EXECUTE is granted per database; the optional REPLICATION comes as a comment.
func GrantsSQL(major int, database, role string) string {
	r := pgx.Identifier{role}.Sanitize()
	db := pgx.Identifier{database}.Sanitize()
	var b strings.Builder
	fmt.Fprintf(&b, "-- Lets %s take backups with pgpull on PostgreSQL %d, connecting to database %s; run as a superuser with psql.\n", r, major, db)
	b.WriteString("-- Function grants hold in one database only: the backup's DSN must name this one.\n")
	fmt.Fprintf(&b, "\\connect %s\n", db)
	fmt.Fprintf(&b, "GRANT CONNECT ON DATABASE %s TO %s;\n", db, r)
	for _, f := range Functions(major) {
		fmt.Fprintf(&b, "GRANT EXECUTE ON FUNCTION pg_catalog.%s TO %s;\n", f, r)
	}
	b.WriteString("-- pg_stat_activity hides other roles' backend_type, which the check for free connections counts.\n")
	fmt.Fprintf(&b, "GRANT %s TO %s;\n", StatsRole, r)
	b.WriteString("-- Optional, remove the \"-- \" to run it: a temporary replication slot then holds the WAL the\n")
	b.WriteString("-- backup needs until it is copied; pgpull wal --slot needs it. REPLICATION also lets the role\n")
	b.WriteString("-- stream WAL where pg_hba.conf allows.\n")
	fmt.Fprintf(&b, "-- ALTER ROLE %s REPLICATION;\n", r)
	return b.String()
}
