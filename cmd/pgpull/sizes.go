package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseSize reads a byte count with an optional unit: k, M or G (powers of 1024), with or without
// a trailing "B". Bare numbers are in defaultUnit bytes, so that --max-rate follows
// pg_basebackup, whose bare rates are in kilobytes.
func parseSize(s string, defaultUnit int64) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "B")
	unit := defaultUnit
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			unit, t = 1<<10, t[:n-1]
		case 'M', 'm':
			unit, t = 1<<20, t[:n-1]
		case 'G', 'g':
			unit, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size %q: give a number with an optional unit k, M or G, as 8MB or 150M", s)
	}
	return int64(v * float64(unit)), nil
}

// tablespaceMapping is -T OLD=NEW, repeatable. A "=" inside a path is written "\=".
type tablespaceMapping map[string]string

func (m tablespaceMapping) String() string { return "" }

// Type names the value in the flag parser's messages.
func (m tablespaceMapping) Type() string { return "OLDDIR=NEWDIR" }

func (m tablespaceMapping) Set(v string) error {
	var old, dir strings.Builder
	cur, seen := &old, false
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && v[i+1] == '=':
			cur.WriteByte('=')
			i++
		case v[i] == '=' && !seen:
			cur, seen = &dir, true
		case v[i] == '=':
			return fmt.Errorf("invalid tablespace mapping %q: write a \"=\" inside a path as \\=", v)
		default:
			cur.WriteByte(v[i])
		}
	}
	o, n := old.String(), dir.String()
	if !seen || o == "" || n == "" || !strings.HasPrefix(o, "/") || !strings.HasPrefix(n, "/") {
		return fmt.Errorf("invalid tablespace mapping %q: write -T /old/location=/new/location, both absolute", v)
	}
	m[strings.TrimSuffix(o, "/")] = strings.TrimSuffix(n, "/")
	return nil
}
