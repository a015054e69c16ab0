package fetch

import (
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/pgpull/pgpull/pipeline"
)

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
