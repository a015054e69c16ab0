package fetch

import (
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/pgpull/pgpull/pipeline"
)

// A file name need not be valid in the database's encoding: PostgreSQL's own tests plant
// "FOO\xe0\xe0\xe0BAR" in a data directory. pg_ls_dir hands such a name out as text unchecked, but
// a text parameter coming back is checked and refused ("invalid byte sequence for encoding").
// So the name travels as bytea, and the server finds the entry whose bytes match (textsend gives
// them unchanged when the connection's encoding is the database's), walking from the longest
// valid directory above it.
const resolveSQL = `WITH RECURSIVE walk(depth, path) AS (
    SELECT 0, $1::text
  UNION ALL
    SELECT w.depth + 1, CASE WHEN w.path = '.' THEN n ELSE w.path || '/' || n END
      FROM walk AS w, LATERAL pg_ls_dir(w.path, true, false) AS n
     WHERE w.depth < cardinality($2::bytea[]) AND textsend(n) = ($2::bytea[])[w.depth + 1]
)`

// rawRangeSQL is rangeSQL for a name found by resolveSQL; a name not found reads as NULL, as
// a vanished file does.
const rawRangeSQL = resolveSQL + `
SELECT pg_read_binary_file((SELECT path FROM walk WHERE depth = cardinality($2::bytea[])), o, least($4::int8, $5::int8 - o), true)
  FROM generate_series($3::int8, $5::int8 - 1, $4::int8) AS o`

// validName reports whether the server accepts source as a text parameter.
func validName(source string) bool { return utf8.ValidString(source) }

// rangeQuery is the query and parameters reading f's bytes from off to end in rows of rowSize.
func rangeQuery(f *pipeline.File, off, rowSize, end int64) (string, [][]byte) {
	if validName(f.Source) {
		return rangeSQL, [][]byte{[]byte(f.Source), itoa(off), itoa(rowSize), itoa(end)}
	}
	dir, rest := splitAtInvalid(f.Source)
	return rawRangeSQL, [][]byte{[]byte(dir), byteaArray(rest), itoa(off), itoa(rowSize), itoa(end)}
}

// splitAtInvalid splits a slash-separated path before its first element that is not valid
// UTF-8: the directory above it ("." for none) and the elements from there on.
func splitAtInvalid(p string) (string, []string) {
	elems := strings.Split(p, "/")
	k := 0
	for k < len(elems) && utf8.ValidString(elems[k]) {
		k++
	}
	if k == 0 {
		return ".", elems
	}
	return strings.Join(elems[:k], "/"), elems[k:]
}

// byteaArray is the text form of a bytea[] holding elems' bytes.
func byteaArray(elems []string) []byte {
	b := []byte{'{'}
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `"\\x`...)
		b = hex.AppendEncode(b, []byte(e))
		b = append(b, '"')
	}
	return append(b, '}')
}
