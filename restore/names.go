package restore

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Names of the data directory that restore treats apart.
const (
	controlName       = "global/pg_control"
	labelName         = "backup_label"
	tablespaceMapName = "tablespace_map"
	manifestName      = "backup_manifest"
)

// checkName refuses a path from the backup that could land outside the data directory: absolute,
// with an empty, "." or ".." element, a NUL byte, or anything the OS would read as leaving it.
// The backup is untrusted input, whatever its manifest says.
func checkName(source, p string) error {
	bad := p == "" || strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0)
	for el := range strings.SplitSeq(p, "/") {
		if el == "" || el == "." || el == ".." {
			bad = true
		}
	}
	if bad || !filepath.IsLocal(filepath.FromSlash(p)) {
		return fmt.Errorf("%s holds a member named %q, which would land outside the data directory: refused, it is no backup pgpull wrote", source, p)
	}
	return nil
}

// tablespaceOf splits a path under pg_tblspc/<oid>: the OID and the path inside the tablespace
// ("" for the link itself). ok is false for a path of the data directory proper.
func tablespaceOf(p string) (oid, inside string, ok bool) {
	rest, found := strings.CutPrefix(p, "pg_tblspc/")
	if !found {
		return "", "", false
	}
	oid, inside, _ = strings.Cut(rest, "/")
	return oid, inside, true
}
