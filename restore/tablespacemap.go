package restore

import (
	"fmt"
	"strings"
)

// parseTablespaceMap reads a backup's tablespace_map as the server does (read_tablespace_map):
// one line per tablespace, its OID, a space and the directory it lived in, where a backslash
// makes the character after it (a newline, a carriage return, a backslash) part of the path.
func parseTablespaceMap(b []byte) (map[string]string, error) {
	out := map[string]string{}
	var line strings.Builder
	escaped := false
	lineNo := 1
	end := func() error {
		s := line.String()
		line.Reset()
		if s == "" {
			return nil
		}
		oid, dir, ok := strings.Cut(s, " ")
		switch {
		case !ok || !isOID(oid) || dir == "":
			return fmt.Errorf("tablespace_map line %d: want an OID, a space and a directory", lineNo)
		case out[oid] != "":
			return fmt.Errorf("tablespace_map line %d: tablespace %s appears twice", lineNo, oid)
		}
		out[oid] = dir
		return nil
	}
	for _, c := range b {
		switch {
		case escaped:
			line.WriteByte(c)
			escaped = false
		case c == '\\':
			escaped = true
		case c == '\n' || c == '\r':
			if err := end(); err != nil {
				return nil, err
			}
			lineNo++
		default:
			line.WriteByte(c)
		}
	}
	if escaped {
		return nil, fmt.Errorf("tablespace_map line %d: ends in a lone backslash", lineNo)
	}
	if err := end(); err != nil {
		return nil, err
	}
	return out, nil
}
