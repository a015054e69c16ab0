package changes

import (
	"path"
	"strconv"
	"strings"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// The OIDs of the two built-in tablespaces, as WAL summaries name them.
const (
	defaultTablespace = 1663 // base/
	globalTablespace  = 1664 // global/, whose relations belong to no database (0)
)

// Fork numbers as WAL summaries give them (relforknumber).
const (
	mainFork = 0
	fsmFork  = 1
	vmFork   = 2
	initFork = 3
)

// forkNumber is the number of the fork a relation file name's suffix names.
func forkNumber(suffix string) int {
	switch suffix {
	case "fsm":
		return fsmFork
	case "vm":
		return vmFork
	case "init":
		return initFork
	}
	return mainFork
}

// database is a (tablespace, database) pair: one directory of relation files.
type database struct {
	Tablespace, Database uint32
}

// fork names one fork of one relation, as a WAL summary row does.
type fork struct {
	database
	RelFileNode uint32
	Fork        int
}

// segmentFile is a relation segment file: a fork's blocks from Segment * RELSEG_SIZE on.
type segmentFile struct {
	fork
	Segment uint32
}

// parseSegmentFile finds the relation a backup path names: global/<file> (tablespace 1664,
// database 0), base/<db>/<file> (1663) or pg_tblspc/<spc>/<version dir>/<db>/<file>.
func parseSegmentFile(p string) (segmentFile, bool) {
	var s segmentFile
	dir, name := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	parts := strings.Split(dir, "/")
	var spc, db string
	switch {
	case dir == "global":
		spc, db = strconv.Itoa(globalTablespace), "0"
	case pgformat.IsDatabaseDir(dir) && parts[0] == "base":
		spc, db = strconv.Itoa(defaultTablespace), parts[1]
	case pgformat.IsDatabaseDir(dir):
		spc, db = parts[1], parts[3]
	default:
		return s, false
	}
	r, ok := pgformat.ParseRelationFile(name)
	if !ok {
		return s, false
	}
	var err error
	if s.Tablespace, err = parseOID(spc); err != nil {
		return s, false
	}
	if s.Database, err = parseOID(db); err != nil {
		return s, false
	}
	if s.RelFileNode, err = parseOID(r.Node); err != nil || s.RelFileNode == 0 {
		return s, false
	}
	if r.Segment < 0 || r.Segment > 1<<31 {
		return s, false
	}
	s.Fork, s.Segment = forkNumber(r.Fork), uint32(r.Segment)
	return s, true
}

func parseOID(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	return uint32(v), err
}
