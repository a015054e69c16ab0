package changes

import (
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// FuzzParseHistory: a timeline history file either fails to parse or gives switch points whose
// timelines rise and whose LSNs never fall, and neededRanges over them never returns ranges that
// run backwards: a prior backup is never checked against a history that reads out of order.
func FuzzParseHistory(f *testing.F) {
	f.Add([]byte("1\t0/3000100\tno recovery target specified\n"))
	f.Add([]byte("# comment\n1\t0/3000100\treason\n\n2\t0/5000000\tafter a restore\n"))
	f.Add([]byte("2\t0/1\n1\t0/2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHistory(b)
		if err != nil {
			return
		}
		for i := 1; i < len(h); i++ {
			if h[i].TLI <= h[i-1].TLI || h[i].End < h[i-1].End {
				t.Fatalf("history out of order: %+v", h)
			}
		}
		if len(h) == 0 {
			return
		}
		tli := h[len(h)-1].TLI + 1
		ranges, err := neededRanges(h, h[0].TLI, 0, tli, pgformat.LSN(^uint64(0)>>1))
		if err != nil {
			return
		}
		for _, r := range ranges {
			if r.End < r.Start {
				t.Fatalf("range runs backwards: %+v from %+v", r, h)
			}
		}
	})
}
