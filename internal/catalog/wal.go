package catalog

import (
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// readWALDir summarizes dir as a WAL archive: ok is false when it holds no WAL segment.
func readWALDir(dir string) (WALArchive, bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return WALArchive{}, false
	}
	var segSize int64
	segs := map[uint32]map[pgformat.Segment]bool{}
	partial := map[uint32]pgformat.Segment{}
	for _, e := range entries {
		name, isPartial := strings.CutSuffix(e.Name(), ".partial")
		if !pgformat.IsSegmentName(name) || !e.Type().IsRegular() {
			continue
		}
		if segSize == 0 {
			if info, err := e.Info(); err == nil && info.Size() > 0 && info.Size()&(info.Size()-1) == 0 {
				segSize = info.Size()
			}
		}
		if segSize == 0 {
			continue
		}
		tli, seg, ok := pgformat.ParseName(name, segSize)
		switch {
		case !ok:
		case isPartial:
			partial[tli] = max(partial[tli], seg)
		default:
			if segs[tli] == nil {
				segs[tli] = map[pgformat.Segment]bool{}
			}
			segs[tli][seg] = true
		}
	}
	if len(segs) == 0 && len(partial) == 0 {
		return WALArchive{}, false
	}
	a := WALArchive{Location: dir}
	for _, tli := range slices.Sorted(maps.Keys(segs)) {
		a.Spans = append(a.Spans, span(tli, segs[tli], partial, segSize))
	}
	for tli, seg := range partial {
		if segs[tli] == nil {
			a.Spans = append(a.Spans, WALSpan{Timeline: tli, Partial: seg.Name(tli, segSize)})
		}
	}
	return a, true
}

// span describes the finished segments of one timeline.
func span(tli uint32, have map[pgformat.Segment]bool, partial map[uint32]pgformat.Segment, segSize int64) WALSpan {
	sorted := slices.Sorted(maps.Keys(have))
	first, last := sorted[0], sorted[len(sorted)-1]
	s := WALSpan{Timeline: tli, First: first.Name(tli, segSize), Last: last.Name(tli, segSize), Segments: len(sorted),
		Start: pgformat.LSN(uint64(first) * uint64(segSize)), End: pgformat.LSN(uint64(last+1) * uint64(segSize))}
	for seg := first; seg < last && len(s.Missing) < 100; seg++ {
		if !have[seg] {
			s.Missing = append(s.Missing, seg.Name(tli, segSize))
		}
	}
	if p, ok := partial[tli]; ok && p > last {
		s.Partial = p.Name(tli, segSize) + ".partial"
	}
	return s
}
