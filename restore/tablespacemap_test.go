package restore

import (
	"maps"
	"strings"
	"testing"
)

// formatTablespaceMap writes a tablespace_map as the server does (do_pg_backup_start).
func formatTablespaceMap(m map[string]string) string {
	var b strings.Builder
	for oid, dir := range m {
		b.WriteString(oid + " ")
		for _, c := range []byte(dir) {
			if c == '\n' || c == '\r' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestParseTablespaceMap(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{"empty", "", map[string]string{}, ""},
		{"two", "16384 /srv/ts1\n16385 /srv/ts 2\n", map[string]string{"16384": "/srv/ts1", "16385": "/srv/ts 2"}, ""},
		{"escaped newline and backslash", "16384 /srv/a\\\nb\\\\c\n", map[string]string{"16384": "/srv/a\nb\\c"}, ""},
		{"crlf", "16384 /srv/ts1\r\n", map[string]string{"16384": "/srv/ts1"}, ""},
		{"no final newline", "16384 /srv/ts1", map[string]string{"16384": "/srv/ts1"}, ""},
		{"not an oid", "abc /srv/ts1\n", nil, "line 1: want an OID"},
		{"no directory", "16384\n", nil, "line 1: want an OID"},
		{"twice", "16384 /a\n16384 /b\n", nil, "line 2: tablespace 16384 appears twice"},
		{"lone backslash", "16384 /a\\", nil, "lone backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTablespaceMap([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// FuzzParseTablespaceMap: any input parses or fails without panicking, and a map the server
// would write reads back as it was.
func FuzzParseTablespaceMap(f *testing.F) {
	f.Add("16384 /srv/ts1\n16385 /srv/ts 2\n", "/x\ny")
	f.Add("", "\\")
	f.Fuzz(func(t *testing.T, raw, dir string) {
		_, _ = parseTablespaceMap([]byte(raw))
		if dir == "" {
			return
		}
		m := map[string]string{"16384": dir}
		got, err := parseTablespaceMap([]byte(formatTablespaceMap(m)))
		if err != nil || !maps.Equal(got, m) {
			t.Fatalf("%q: read back %q, %v", dir, got, err)
		}
	})
}
