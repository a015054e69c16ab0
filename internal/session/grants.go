package session

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Role is a predefined role pgpull needs a backup role to be a member of, and why.
type Role struct {
	Name string
	Why  string // completes "pgpull needs it to ..."
}

// Roles are the predefined roles pgpull needs on a server of the given major version. Members of
// pg_read_all_stats see every backend's backend_type in pg_stat_activity; without it pgpull would
// count only the role's own connections when it checks that the server has room for -j more. On
// 13 and 14 only members of pg_read_all_settings may read stats_temp_directory, whose contents
// are left out of the backup.
func Roles(major int) []Role {
	roles := []Role{{"pg_read_all_stats", "count the server's free connections"}}
	if major < 15 {
		roles = append(roles, Role{"pg_read_all_settings", "read stats_temp_directory, whose contents the backup leaves out"})
	}
	return roles
}

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
	for _, role := range Roles(major) {
		fmt.Fprintf(&b, "-- pgpull needs %s to %s.\n", role.Name, role.Why)
		fmt.Fprintf(&b, "GRANT %s TO %s;\n", role.Name, r)
	}
	b.WriteString("-- Optional, remove the \"-- \" to run it: a temporary replication slot then holds the WAL the\n")
	b.WriteString("-- backup needs until it is copied; pgpull wal --slot needs it. REPLICATION also lets the role\n")
	b.WriteString("-- stream WAL where pg_hba.conf allows.\n")
	fmt.Fprintf(&b, "-- ALTER ROLE %s REPLICATION;\n", r)
	return b.String()
}
