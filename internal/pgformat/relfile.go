package pgformat

import (
	"strconv"
	"strings"
)

// RelationFile is a parsed relation file name: <relfilenode>[_<fork>][.<segment>].
type RelationFile struct {
	Node    string
	Fork    string // "" for the main fork, "fsm", "vm" or "init"
	Segment int
}

// ParseRelationFile reads a non-temporary relation file name, as PostgreSQL's reinit.c does.
func ParseRelationFile(name string) (RelationFile, bool) {
	var r RelationFile
	i := digitsPrefix(name)
	if i == 0 || i > 10 {
		return r, false
	}
	r.Node, name = name[:i], name[i:]
	if rest, ok := strings.CutPrefix(name, "_"); ok {
		for _, f := range []string{"fsm", "vm", "init"} {
			if strings.HasPrefix(rest, f) {
				r.Fork, name = f, rest[len(f):]
				break
			}
		}
		if r.Fork == "" {
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
		r.Segment, name = seg, ""
	}
	return r, name == ""
}

// IsTempRelation reports names like t123_456[_fork][.seg], the files of temporary tables, which
// no other session can read and a restored cluster removes anyway.
func IsTempRelation(name string) bool {
	rest, ok := strings.CutPrefix(name, "t")
	if !ok {
		return false
	}
	i := digitsPrefix(rest)
	if i == 0 || len(rest) <= i || rest[i] != '_' {
		return false
	}
	_, ok = ParseRelationFile(rest[i+1:])
	return ok
}

func digitsPrefix(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// IsDatabaseDir reports whether dir (a path in the data directory) holds one database's relation
// files: base/<oid>, or pg_tblspc/<oid>/<version dir>/<oid>.
func IsDatabaseDir(dir string) bool {
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

// PageSegment returns the segment number of a relation file whose pages carry checksums, or -1.
func PageSegment(dir, name string) int {
	if noPageChecksums[name] || !(dir == "global" || IsDatabaseDir(dir)) {
		return -1
	}
	r, ok := ParseRelationFile(name)
	if !ok {
		return -1
	}
	return r.Segment
}
