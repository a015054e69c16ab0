package list

import (
	"strconv"
	"strings"
)

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

// skipped reports whether an entry is left out of the backup, by its name alone.
func skipped(name string) bool {
	return skippedNames[name] ||
		strings.HasPrefix(name, "pgsql_tmp") ||
		strings.HasPrefix(name, "pg_internal.init")
}

// relationFile is a parsed relation file name: <relfilenode>[_<fork>][.<segment>].
type relationFile struct {
	node    string
	fork    string // "" for the main fork, "fsm", "vm" or "init"
	segment int
}

// parseRelationFile reads a non-temporary relation file name, as PostgreSQL's reinit.c does.
func parseRelationFile(name string) (relationFile, bool) {
	var r relationFile
	i := digitsPrefix(name)
	if i == 0 || i > 10 {
		return r, false
	}
	r.node, name = name[:i], name[i:]
	if rest, ok := strings.CutPrefix(name, "_"); ok {
		for _, f := range []string{"fsm", "vm", "init"} {
			if strings.HasPrefix(rest, f) {
				r.fork, name = f, rest[len(f):]
				break
			}
		}
		if r.fork == "" {
			return r, false
		}
	}
	if rest, ok := strings.CutPrefix(name, "."); ok {
		n := digitsPrefix(rest)
		if n == 0 || n != len(rest) {
			return r, false
		}
		seg, err := strconv.Atoi(rest)
		if err != nil {
			return r, false
		}
		r.segment, name = seg, ""
	}
	return r, name == ""
}

// isTempRelation reports names like t123_456[_fork][.seg], the files of temporary tables, which
// no other session can read and a restored cluster removes anyway.
func isTempRelation(name string) bool {
	rest, ok := strings.CutPrefix(name, "t")
	if !ok {
		return false
	}
	i := digitsPrefix(rest)
	if i == 0 || len(rest) <= i || rest[i] != '_' {
		return false
	}
	_, ok = parseRelationFile(rest[i+1:])
	return ok
}

func digitsPrefix(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// isDatabaseDir reports whether dir (a backup path) holds one database's relation files:
// base/<oid>, or pg_tblspc/<oid>/<version dir>/<oid>.
func isDatabaseDir(dir string) bool {
	parts := strings.Split(dir, "/")
	switch {
	case len(parts) == 2 && parts[0] == "base":
		return digitsPrefix(parts[1]) == len(parts[1])
	case len(parts) == 4 && parts[0] == "pg_tblspc":
		return digitsPrefix(parts[3]) == len(parts[3])
	}
	return false
}

// noPageChecksums are files in relation directories whose pages carry no checksum.
var noPageChecksums = map[string]bool{"pg_control": true, "pg_filenode.map": true, "PG_VERSION": true}

// pageSegment returns the segment number of a relation file whose pages carry checksums, or -1.
func pageSegment(dir, name string) int {
	if noPageChecksums[name] || !(dir == "global" || isDatabaseDir(dir)) {
		return -1
	}
	r, ok := parseRelationFile(name)
	if !ok {
		return -1
	}
	return r.segment
}
