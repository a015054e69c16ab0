package walfeed

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// TestSkipGap: a lost segment is skipped, to the oldest one the server still has, only with
// --accept-gaps or, for a warm standby, when all it skips is older than what the standby needs;
// else the error names the first lost segment a restore needs.
func TestSkipGap(t *testing.T) {
	const size = 16 << 20
	needs := &Needs{From: pgformat.LSN(6 * size), What: "the backup in /b"}
	tests := []struct {
		name       string
		accept     bool
		warm       bool
		needs      *Needs
		present    []pgformat.Segment // in pg_wal; 3 is lost, 9 is being written
		wantNext   pgformat.Segment
		wantErrors []string // all in the error; none: skipped
	}{
		{"archive: fatal", false, false, nil, []pgformat.Segment{5, 6, 9}, 0,
			[]string{"WAL segment 000000010000000000000003 was removed", "no restore can cross"}},
		{"--accept-gaps", true, false, nil, []pgformat.Segment{5, 6, 9}, 5, nil},
		{"--accept-gaps, nothing left but the segment being written", true, false, nil, nil, 9, nil},
		{"warm standby needing what follows the gap", false, true, needs, []pgformat.Segment{5, 6, 9}, 5, nil},
		{"warm standby needing the start of its own segment", false, true, needs, []pgformat.Segment{6, 9}, 6, nil},
		{"warm standby needing part of the gap", false, true, needs, []pgformat.Segment{7, 9}, 0,
			[]string{"WAL segment 000000010000000000000006 was removed", "the standby needs it (the backup in /b", "--from-backup"}},
		{"warm standby, needs unknown", false, true, nil, []pgformat.Segment{5, 9}, 0,
			[]string{"WAL segment 000000010000000000000003 was removed", "--from-backup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warned []string
			f := &Feed{Archive: NewDirArchive("/srv/wal", 0o600), SegmentSize: size, AcceptGaps: tt.accept, WarmStandby: tt.warm,
				Needs: tt.needs, Warn: func(format string, args ...any) { warned = append(warned, fmt.Sprintf(format, args...)) },
				next: 3, tli: 1}
			l := listing{segments: map[pgformat.Segment]walFile{}}
			for _, s := range tt.present {
				l.segments[s] = walFile{name: s.Name(1, size)}
			}
			err := f.skipGap(l, 9)
			switch {
			case len(tt.wantErrors) == 0 && err != nil:
				t.Fatalf("skipGap: %v; want a skip to %d", err, tt.wantNext)
			case len(tt.wantErrors) == 0:
				if f.next != tt.wantNext || len(warned) != 1 || !strings.Contains(warned[0], "000000010000000000000003 to ") {
					t.Errorf("next %d, warned %q; want next %d and one line naming the skip from 3", f.next, warned, tt.wantNext)
				}
			case err == nil:
				t.Fatalf("skipGap skipped to %d; want an error", f.next)
			default:
				for _, want := range tt.wantErrors {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
			}
		})
	}
}
