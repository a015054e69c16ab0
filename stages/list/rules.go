package list

import "strings"

// The rules below follow pg_basebackup's server side (basebackup.c): what it leaves out, by name,
// at every depth of the data directory and of each tablespace.

// skippedNames are files never copied: the backup brings its own backup_label and
// tablespace_map, and the rest belong to the running server, not to a restored copy.
var skippedNames = map[string]bool{
	"backup_label":             true,
	"tablespace_map":           true,
	"backup_manifest":          true,
	"postmaster.pid":           true,
	"postmaster.opts":          true,
	"postgresql.auto.conf.tmp": true,
	"current_logfiles.tmp":     true,
	".DS_Store":                true,
}

// emptiedDirs are top-level directories copied empty: their contents only mean something to the
// server that wrote them.
var emptiedDirs = []string{"pg_stat_tmp", "pg_replslot", "pg_dynshmem", "pg_notify", "pg_serial", "pg_snapshots", "pg_subtrans"}

// walDirs are the directories under pg_wal that a backup of a server of the given major version
// holds, empty, as pg_basebackup sends them: the WAL scanner fills archive_status with the .done
// markers of the WAL it copies; the WAL summaries of 17 and later (summarize_wal) describe the
// source's WAL, not the copy's, and the restored server makes its own.
func walDirs(major int) []string {
	if major >= 17 {
		return []string{"pg_wal/archive_status", "pg_wal/summaries"}
	}
	return []string{"pg_wal/archive_status"}
}

// skipped reports whether an entry is left out of the backup, by its name alone.
func skipped(name string) bool {
	return skippedNames[name] ||
		strings.HasPrefix(name, "pgsql_tmp") ||
		strings.HasPrefix(name, "pg_internal.init")
}
