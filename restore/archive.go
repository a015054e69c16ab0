package restore

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// partialSuffix marks a segment `pgpull wal` was still writing, as pg_receivewal names it.
const partialSuffix = ".partial"

// walArchive is what a directory `pgpull wal` keeps holds: its segments by number, on any
// timeline, finished or partial.
type walArchive struct {
	dir      string
	segSize  int64
	segments map[pgformat.Segment]archivedSegment
}

// archivedSegment is the newest copy the archive has of one segment.
type archivedSegment struct {
	name     string
	timeline uint32
	partial  bool
	modTime  time.Time
}

// readArchive lists the WAL archive dir. The segment size is the size of its segments.
func readArchive(dir string) (*walArchive, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--wal-archive: %w", err)
	}
	a := &walArchive{dir: dir, segments: map[pgformat.Segment]archivedSegment{}}
	for _, e := range entries {
		name, partial := strings.CutSuffix(e.Name(), partialSuffix)
		if !pgformat.IsSegmentName(name) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("--wal-archive: %w", err)
		}
		if a.segSize == 0 {
			a.segSize = info.Size()
		}
		tli, seg, ok := pgformat.ParseName(name, a.segSize)
		if !ok || info.Size() != a.segSize {
			continue
		}
		cur, seen := a.segments[seg]
		if !seen || tli > cur.timeline || tli == cur.timeline && cur.partial && !partial {
			a.segments[seg] = archivedSegment{name: e.Name(), timeline: tli, partial: partial, modTime: info.ModTime()}
		}
	}
	return a, nil
}

// reach is how far recovery can go from a backup that ends at stop: the segments from stop's on,
// one after another, up to the first missing or the first partial one. last is the last segment
// it reads; ok is false when the archive lacks the stop segment itself.
func (a *walArchive) reach(stop pgformat.LSN) (last archivedSegment, end pgformat.LSN, missing pgformat.Segment, ok bool) {
	if a.segSize == 0 {
		return last, 0, 0, false
	}
	seg := pgformat.SegmentOf(stop, a.segSize)
	for {
		s, found := a.segments[seg]
		if !found {
			return last, end, seg, ok
		}
		last, end, ok = s, pgformat.LSN(uint64(seg+1)*uint64(a.segSize)), true
		if s.partial {
			return last, end, seg + 1, ok
		}
		seg++
	}
}

// backupEnd is where a backup's WAL ends, and when it ended (zero when the manifest does not
// say): the WAL range's end, and the time backup_label was written, at the backup's stop.
func backupEnd(m *manifest.Parsed) (pgformat.LSN, uint32, time.Time) {
	if len(m.WALRanges) == 0 {
		return 0, 0, time.Time{}
	}
	r := m.WALRanges[len(m.WALRanges)-1]
	var at time.Time
	for _, f := range m.Files {
		if f.Path == labelName {
			at, _ = time.Parse(manifest.LastModifiedLayout, f.LastModified)
		}
	}
	return pgformat.LSN(r.End), r.Timeline, at
}

// checkTarget refuses a recovery target the restored server could not reach: before the
// backup's end (recovery cannot stop before the backup is consistent), or, for a server that is
// to recover and stop being a standby, past the WAL the archive holds from there on.
func (r Recovery) checkTarget(m *manifest.Parsed, a *walArchive) error {
	if !r.target() {
		return nil
	}
	stop, tli, stopTime := backupEnd(m)
	switch {
	case r.TargetLSN != nil && *r.TargetLSN < stop:
		return fmt.Errorf("--target-lsn %s is before the backup's end at %s: recovery from this backup can stop at its end or later; give a later target or an older backup",
			*r.TargetLSN, stop)
	case r.TargetTime != nil && !stopTime.IsZero() && r.TargetTime.Before(stopTime):
		return fmt.Errorf("--target-time %s is before the backup's end at %s: recovery from this backup can stop at its end or later; give a later target or an older backup",
			formatTargetTime(*r.TargetTime), formatTargetTime(stopTime))
	case r.Standby || a == nil || r.TargetName != "":
		return nil // a standby waits for more WAL; a restore point's place is known to no one but the WAL
	}
	last, end, missing, ok := a.reach(stop)
	if !ok {
		return fmt.Errorf("the WAL archive %s lacks segment %s, where the WAL after the backup's end (%s) begins: recovery cannot go past the backup's end",
			a.dir, missing.Name(tli, a.segSize), stop)
	}
	return r.pastArchive(a, last, end, gapNote(a, missing, tli))
}

// checkArchive refuses, before any backup is read, a target past all the WAL the archive holds.
func (r Recovery) checkArchive(a *walArchive) error {
	if !r.target() || r.Standby || a == nil || r.TargetName != "" {
		return nil
	}
	if len(a.segments) == 0 {
		return fmt.Errorf("the WAL archive %s holds no WAL segment: recovery cannot go past a backup's end", a.dir)
	}
	var newest archivedSegment
	var last pgformat.Segment
	for seg, s := range a.segments {
		last = max(last, seg)
		if s.modTime.After(newest.modTime) {
			newest = s
		}
	}
	newest.name = a.segments[last].name
	return r.pastArchive(a, newest, pgformat.LSN(uint64(last+1)*uint64(a.segSize)), "")
}

// pastArchive refuses a target past last, the last segment recovery can read (which ends at end).
func (r Recovery) pastArchive(a *walArchive, last archivedSegment, end pgformat.LSN, note string) error {
	switch {
	case r.TargetLSN != nil && *r.TargetLSN > end:
		return fmt.Errorf("--target-lsn %s is past the WAL the archive %s holds (through %s, in %s%s): recovery could not reach it",
			*r.TargetLSN, a.dir, end, last.name, note)
	case r.TargetTime != nil && r.TargetTime.After(last.modTime):
		return fmt.Errorf("--target-time %s is past the WAL the archive %s holds (%s, written %s%s): recovery could not reach it",
			formatTargetTime(*r.TargetTime), a.dir, last.name, formatTargetTime(last.modTime), note)
	}
	return nil
}

// gapNote says, when segments follow a missing one, that the archive has a gap there.
func gapNote(a *walArchive, missing pgformat.Segment, tli uint32) string {
	for seg := range a.segments {
		if seg > missing {
			return "; segment " + missing.Name(tli, a.segSize) + " is missing, and recovery stops there"
		}
	}
	return ""
}
