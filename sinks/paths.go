package sinks

import (
	"fmt"
	"path/filepath"
	"strings"
)

// checkPath refuses an entry name that could land outside the backup. Names come from the server,
// so they are untrusted: no absolute paths, no empty, "." or ".." elements, no NUL bytes, and
// nothing the local OS would read as leaving the directory (drive letters, reserved names).
func checkPath(name string) error {
	bad := name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0)
	for el := range strings.SplitSeq(name, "/") {
		if el == "" || el == "." || el == ".." {
			bad = true
		}
	}
	if bad || !filepath.IsLocal(filepath.FromSlash(name)) {
		return fmt.Errorf("refusing unsafe path %q from the server", name)
	}
	return nil
}

// checkOID refuses a tablespace OID that is not a plain number, since it becomes part of file
// names (pg_tblspc/<oid>, <oid>.tar).
func checkOID(oid string) error {
	if oid == "" || strings.Trim(oid, "0123456789") != "" {
		return fmt.Errorf("refusing tablespace OID %q from the server: not a number", oid)
	}
	return nil
}
