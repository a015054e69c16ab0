package walfeed

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
)

// Feed keeps an archive of WAL up to date from a running server (a primary or a standby), over
// one plain connection. It is pg_basebackup.py's WAL loop run alone: it lists pg_wal and copies
// each segment the server has finished, once, in order, under its own name, and each timeline
// history file; it looks again at once after a pass that copied a finished segment, else after
// Interval. The segment being written is copied too (into a directory only), again whenever its
// change time (ctime) moves, so what the archive holds is at most one interval behind the server:
//   - by default as NAME.partial, as pg_receivewal keeps it, so that an archive for point-in-time
//     recovery never holds a partial segment under a final name;
//   - with WarmStandby under its final name, so that a standby whose restore_command copies from
//     the directory replays what the primary has written so far (it asks for the segment again
//     until the next one exists).
//
// A promotion starts a new timeline: its history file is copied first, then the feed follows the
// new timeline from the segment it starts in.
//
// A finished segment gone from pg_wal before it was copied is an error: the archive would have a
// gap no restore can cross. With a Slot the server keeps every segment until it is copied;
// without one, the feed refuses to start unless the server keeps enough WAL (see
// session.FeedKeep) or AcceptGaps says a best-effort feed will do, which reports and skips a
// gap. A warm standby's feed skips gaps older than what the standby Needs.
type Feed struct {
	Conn         *pgx.Conn
	Archive      Archive
	SegmentSize  int64
	WALBlockSize int // XLOG_BLCKSZ, the size of a WAL page: reads of a segment resume at one
	Interval     time.Duration
	IntervalFlag string // the flag that sets Interval, for advice
	WarmStandby  bool
	Slot         string // a physical replication slot holding WAL until it is copied, or ""
	AcceptGaps   bool
	Needs        *Needs                           // the oldest WAL the warm standby fed can ask for, when known
	Log          func(format string, args ...any) // progress, for -v
	Warn         func(format string, args ...any) // what the user must see: risks, skipped gaps

	next   pgformat.Segment     // the first segment not yet in the archive, finished, under its final name
	tli    uint32               // timeline followed
	slot   *slot                // nil without Slot
	keep   session.FeedKeep     // the server's retention, without Slot
	copied map[string]copyState // partial segments and history files, by name
	lag    lag
	// writtenLSN is the server's written position at the start of the pass: WAL before it is final.
	writtenLSN pgformat.LSN
	tail       tailCache
}

// copyState is what the feed knows of its last copy of a file that may still change.
type copyState struct {
	ctime time.Time // the file's change time when it was listed for that copy
	at    time.Time // when the copy was read, by the server's clock, as ctime is
}

// stale reports whether the file, listed now with ctime, may hold more than the last copy: its
// ctime moved, or it moved within the second of the last copy, which ctime, counted in whole
// seconds, cannot show.
func (c copyState) stale(ctime time.Time) bool {
	return !ctime.Equal(c.ctime) || !c.at.After(ctime.Add(time.Second))
}

// Run copies until ctx ends, then returns nil; it fails when the server or the archive does, or
// when a segment was lost before it could be copied.
func (f *Feed) Run(ctx context.Context) error {
	f.copied = map[string]copyState{}
	if f.WarmStandby && !f.Archive.keepsPartial() {
		return fmt.Errorf("--warm-standby needs a directory a standby's restore_command copies from, not %s", f.Archive)
	}
	if err := f.start(ctx); err != nil {
		return err
	}
	for {
		busy, err := f.pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if busy {
			continue // the server may have finished more while that was copied
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.Interval):
		}
	}
}

// start makes sure the server keeps what the feed has not copied (a slot, or enough
// wal_keep_size) and decides where the feed begins: after the newest finished segment in the
// archive (at it in warm standby mode, where a final name may hold a partial copy); in an empty
// archive at the slot's restart point, or at the redo point of the server's latest checkpoint,
// the oldest WAL a standby restored from a recent base backup can still need.
func (f *Feed) start(ctx context.Context) error {
	if err := f.holdWAL(ctx); err != nil {
		return err
	}
	q := `SELECT redo_lsn::text, timeline_id FROM pg_control_checkpoint()`
	var redo string
	if err := f.Conn.QueryRow(ctx, q).Scan(&redo, &f.tli); err != nil {
		return fmt.Errorf("reading the checkpoint's redo point: %w", err)
	}
	from, err := pgformat.ParseLSN(redo)
	if err != nil {
		return err
	}
	if f.slot != nil {
		from = f.slot.restart
		f.Log("slot %s holds WAL from %s", f.Slot, from)
	}
	f.next = pgformat.SegmentOf(from, f.SegmentSize)
	held, err := f.Archive.scan(ctx, f.SegmentSize)
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.Archive, err)
	}
	if held.any {
		f.next, f.tli = held.newest+1, held.tli
		if f.WarmStandby {
			f.next = held.newest
		}
	} else if held.anyPartial {
		f.next = held.oldestPartial
	}
	f.Log("starting at segment %s", f.next.Name(f.tli, f.SegmentSize))
	return nil
}
