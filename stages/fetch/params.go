package fetch

import (
	"strconv"
	"strings"
)

// Parameters in PostgreSQL's text forms: the fetch queries take arrays, built here without pgx's
// row machinery, since the workers run on bare connections.

func itoa(n int64) []byte { return strconv.AppendInt(nil, n, 10) }

// textArrays builds the text forms of parallel array parameters, one element of each at a time.
type textArrays []strings.Builder

func newTextArrays(n int) textArrays { return make(textArrays, n) }

// add appends one element to each array; elems are already in array-literal form.
func (a textArrays) add(elems ...string) {
	for i, e := range elems {
		if a[i].Len() > 0 {
			a[i].WriteByte(',')
		}
		a[i].WriteString(e)
	}
}

// params is the arrays as parameter values.
func (a textArrays) params() [][]byte {
	out := make([][]byte, len(a))
	for i := range a {
		out[i] = []byte("{" + a[i].String() + "}")
	}
	return out
}

// arrayElement quotes s as an element of a PostgreSQL array literal. File names come from the
// server and may hold any byte, so every element is quoted.
func arrayElement(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
