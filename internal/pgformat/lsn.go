// Package pgformat is pgpull's one home for PostgreSQL's on-disk formats and names: LSNs, WAL
// file names, WAL page and record headers, relation file names, data page checksums and
// pg_control. It reads and writes bytes and names only; it never talks to a server.
package pgformat

import (
	"fmt"
	"strconv"
	"strings"
)

// LSN is a position in the write-ahead log.
type LSN uint64

// ParseLSN reads PostgreSQL's text form of an LSN, "16/B374D848": two groups of 1 to 8 hex
// digits.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || !isHex8(hi) || !isHex8(lo) {
		return 0, fmt.Errorf("invalid LSN %q", s)
	}
	h, _ := strconv.ParseUint(hi, 16, 32)
	l, _ := strconv.ParseUint(lo, 16, 32)
	return LSN(h<<32 | l), nil
}

// String prints the LSN as PostgreSQL does: upper-case hex halves without padding.
func (l LSN) String() string { return string(l.Append(nil)) }

// Append appends the LSN's text form to b, for writers that build lines without allocating.
func (l LSN) Append(b []byte) []byte {
	b = appendUpperHex(b, uint64(l)>>32)
	b = append(b, '/')
	return appendUpperHex(b, uint64(l)&0xFFFFFFFF)
}

func appendUpperHex(b []byte, v uint64) []byte {
	start := len(b)
	b = strconv.AppendUint(b, v, 16)
	for i := start; i < len(b); i++ {
		if c := b[i]; 'a' <= c && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return b
}

func isHex8(s string) bool {
	if len(s) == 0 || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
