package changes

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// walRange is a stretch of WAL on one timeline, [Start, End): a WAL summary file, or a stretch
// the summaries must cover.
type walRange struct {
	TLI        uint32
	Start, End pgformat.LSN
}

// switchPoint is one line of a timeline history file: timeline TLI ended at End.
type switchPoint struct {
	TLI uint32
	End pgformat.LSN
}

// parseHistory reads a timeline history file (pg_wal/<TLI>.history): a line per ancestor
// timeline, "<tli>\t<switch LSN>\t<reason>", oldest first; '#' starts a comment.
func parseHistory(b []byte) ([]switchPoint, error) {
	var out []switchPoint
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return nil, fmt.Errorf("timeline history line %q has no switch point", line)
		}
		tli, err := strconv.ParseUint(fields[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("timeline history line %q: %w", line, err)
		}
		end, err := pgformat.ParseLSN(fields[1])
		if err != nil {
			return nil, fmt.Errorf("timeline history line %q: %w", line, err)
		}
		if n := len(out); n > 0 && (uint32(tli) <= out[n-1].TLI || end < out[n-1].End) {
			return nil, fmt.Errorf("timeline history line %q does not follow the one before", line)
		}
		out = append(out, switchPoint{TLI: uint32(tli), End: end})
	}
	return out, sc.Err()
}

// neededRanges is the WAL the summaries must cover for an incremental backup starting at start on
// timeline tli whose prior backup started at priorStart on priorTLI: from the prior start to the
// end of its timeline, each later timeline of the history whole, and the current one up to start.
// history is the current timeline's history, needed only when the timelines differ.
func neededRanges(history []switchPoint, priorTLI uint32, priorStart pgformat.LSN, tli uint32, start pgformat.LSN) ([]walRange, error) {
	if priorTLI == tli {
		if priorStart > start {
			return nil, fmt.Errorf("the prior backup starts at %s, after this backup's start %s on timeline %d: it is not a backup of this server's past",
				priorStart, start, tli)
		}
		return []walRange{{TLI: tli, Start: priorStart, End: start}}, nil
	}
	i := slices.IndexFunc(history, func(s switchPoint) bool { return s.TLI == priorTLI })
	if i < 0 {
		return nil, fmt.Errorf("the prior backup's timeline %d is not in the history of this server's timeline %d: it is not a backup of this server's past",
			priorTLI, tli)
	}
	if priorStart >= history[i].End {
		return nil, fmt.Errorf("the prior backup starts at %s on timeline %d, which this server's history left at %s: it is not a backup of this server's past",
			priorStart, priorTLI, history[i].End)
	}
	ranges := []walRange{{TLI: priorTLI, Start: priorStart, End: history[i].End}}
	for j := i + 1; j < len(history); j++ {
		ranges = append(ranges, walRange{TLI: history[j].TLI, Start: history[j-1].End, End: history[j].End})
	}
	last := history[len(history)-1].End
	if last > start {
		return nil, fmt.Errorf("this backup starts at %s on timeline %d, before the timeline began at %s", start, tli, last)
	}
	return append(ranges, walRange{TLI: tli, Start: last, End: start}), nil
}

// coveringSummaries checks that the available summaries cover every needed range without a gap,
// as the server's WalSummariesAreComplete does, and returns the summaries that overlap them: all
// of them, not a minimal chain, since a block one names needlessly is only sent needlessly.
func coveringSummaries(available, needed []walRange) ([]walRange, error) {
	var use []walRange
	for _, r := range needed {
		if r.Start >= r.End {
			continue
		}
		if err := checkCovered(available, r); err != nil {
			return nil, err
		}
		for _, s := range available {
			if s.TLI == r.TLI && s.Start < r.End && s.End > r.Start && !slices.Contains(use, s) {
				use = append(use, s)
			}
		}
	}
	return use, nil
}

// checkCovered walks r from its start, each step to the furthest end of a summary that holds the
// point reached, and says where the first gap is.
func checkCovered(available []walRange, r walRange) error {
	var first pgformat.LSN
	found := false
	for _, s := range available {
		if s.TLI == r.TLI && (!found || s.Start < first) {
			first, found = s.Start, true
		}
	}
	for at := r.Start; at < r.End; {
		next := at
		for _, s := range available {
			if s.TLI == r.TLI && s.Start <= at && s.End > next {
				next = s.End
			}
		}
		if next > at {
			at = next
			continue
		}
		switch {
		case !found:
			return summariesMissing("the server has no WAL summaries on timeline %d, which the WAL from the prior backup's start %s to this backup's start runs through", r.TLI, r.Start)
		case at == r.Start && first > at:
			return summariesMissing("the WAL summaries on timeline %d begin at %s, after the prior backup's start %s: summarize_wal was turned on after the prior backup, or wal_summary_keep_time removed older summaries",
				r.TLI, first, at)
		default:
			return summariesMissing("no WAL summary on timeline %d covers %s, between the prior backup's start and this backup's (%s to %s): summarize_wal was off for a while, or summaries were removed",
				r.TLI, at, r.Start, r.End)
		}
	}
	return nil
}
