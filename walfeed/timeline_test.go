package walfeed

import (
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// TestParseHistory: a history file's name gives its timeline, its last entry where it starts.
func TestParseHistory(t *testing.T) {
	tests := []struct {
		name, file, data string
		wantTLI          uint32
		wantStart        pgformat.LSN
		wantErr          bool
	}{
		{"promoted once", "00000002.history", "1\t0/3000158\tno recovery target specified\n", 2, 0x3000158, false},
		{"promoted thrice", "0000000A.history", "1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tat restore point\n9\t1/A0000028\tbefore 2026-12-07\n",
			10, 0x1A0000028, false},
		{"no entry", "00000002.history", "# comment\n", 0, 0, true},
		{"a name without a timeline", "xyz.history", "1\t0/3000158\treason\n", 0, 0, true},
	}
	for _, tt := range tests {
		tli, start, err := parseHistory(tt.file, []byte(tt.data))
		if (err != nil) != tt.wantErr || tli != tt.wantTLI || start != tt.wantStart {
			t.Errorf("%s: parseHistory = %d, %s, %v; want %d, %s, error %v", tt.name, tli, start, err, tt.wantTLI, tt.wantStart, tt.wantErr)
		}
	}
}
