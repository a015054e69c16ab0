package walfeed

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// copyHistory copies a timeline history file when it is new or changed, and follows the timeline
// it describes when that is newer than the one followed.
func (f *Feed) copyHistory(ctx context.Context, w walFile) error {
	data, err := f.copyChanged(ctx, w, w.name, f.read)
	if err != nil || data == nil {
		return err
	}
	tli, start, err := parseHistory(w.name, data)
	if err != nil {
		return err
	}
	if tli <= f.tli {
		return nil
	}
	// From the segment the switch happened in, recovery reads the new timeline's segments: go
	// back to it if the feed copied the old timeline's past it (a standby that had received more
	// of it than the server promoted in its stead).
	seg := pgformat.SegmentOf(start, f.SegmentSize)
	f.Log("timeline %d starts at %s, in segment %s: following it", tli, start, seg.Name(tli, f.SegmentSize))
	f.tli = tli
	f.next = min(f.next, seg)
	return nil
}

// parseHistory reads a timeline history file: its name gives the timeline, its last entry
// ("parent TLI <tab> switch point <tab> reason") where the timeline starts.
func parseHistory(name string, data []byte) (uint32, pgformat.LSN, error) {
	hex, _ := strings.CutSuffix(name, ".history")
	tli, err := strconv.ParseUint(hex, 16, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("timeline history file %s: its name gives no timeline", name)
	}
	var start string
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) >= 2 && !strings.HasPrefix(fields[0], "#") {
			start = fields[1]
		}
	}
	lsn, err := pgformat.ParseLSN(start)
	if err != nil {
		return 0, 0, fmt.Errorf("timeline history file %s names no switch point: %q", name, data)
	}
	return uint32(tli), lsn, nil
}
