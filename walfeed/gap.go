package walfeed

import (
	"fmt"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// skipGap deals with segment next, finished but gone from pg_wal before it was copied. A gap the
// feed may skip (AcceptGaps, or, for a warm standby, WAL older than what the standby Needs) moves
// next to the oldest segment the server still has, saying so; any other is an error naming the
// lost segment and what is needed to go on.
func (f *Feed) skipGap(l listing, written pgformat.Segment) error {
	lost := f.next
	resume := written
	for s := range l.segments {
		if s > lost && s < resume {
			resume = s
		}
	}
	var reason string
	switch {
	case f.AcceptGaps:
		reason = "--accept-gaps"
	case f.WarmStandby && f.Needs != nil && resume <= f.neededFrom():
		reason = fmt.Sprintf("the standby needs WAL from %s on (%s)", f.neededFrom().Name(f.tli, f.SegmentSize), f.Needs.What)
	default:
		return f.gapError(max(lost, f.neededFrom()))
	}
	f.Warn("WAL segments %s to %s were removed from the server's pg_wal before they were copied: skipped, as %s",
		lost.Name(f.tli, f.SegmentSize), (resume-1).Name(f.tli, f.SegmentSize), reason)
	f.next = resume
	return nil
}

// neededFrom is the oldest segment the warm standby can ask for, 0 when unknown.
func (f *Feed) neededFrom() pgformat.Segment {
	if f.Needs == nil || !f.WarmStandby {
		return 0
	}
	return pgformat.SegmentOf(f.Needs.From, f.SegmentSize)
}

// gapError is the error for a segment the server removed before the feed copied it, which a
// restore needs.
func (f *Feed) gapError(lost pgformat.Segment) error {
	name := lost.Name(f.tli, f.SegmentSize)
	what := fmt.Sprintf("so %s has a gap no restore can cross: restores need a base backup that starts after it (take one now) "+
		"and an archive fed from then on (feed an empty directory)", f.Archive)
	switch {
	case f.WarmStandby && f.Needs != nil:
		what = fmt.Sprintf("and the standby needs it (%s starts at %s): rebuild the standby from a base backup taken now "+
			"and restart pgpull wal with --from-backup naming that backup", f.Needs.What, f.Needs.From)
	case f.WarmStandby:
		what = "so a standby restored from a backup that starts before it cannot get past it: rebuild the standby from a base backup " +
			"taken now and restart pgpull wal with --from-backup naming that backup, which lets it skip older gaps"
	}
	remedy := "run pgpull wal with --slot NAME (a role with REPLICATION) so the server keeps WAL until it is copied, or raise wal_keep_size"
	if f.slot != nil {
		remedy = "the slot " + f.Slot + " was not holding it (dropped, recreated, or past max_slot_wal_keep_size)"
	}
	return fmt.Errorf("WAL segment %s was removed from the server's pg_wal before pgpull wal copied it, %s; to avoid it, %s",
		name, what, remedy)
}
