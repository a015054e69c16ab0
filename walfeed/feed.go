package walfeed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
)

// Feed keeps a directory of WAL up to date from a running server (a primary or a standby), over
// one plain connection. It is pg_basebackup.py's WAL loop run alone: every Interval it lists
// pg_wal and copies each segment the server has finished, once, in order, under its own name.
// The segment being written is copied too, again whenever its change time (ctime) moves, so
// what DIR holds is at most one interval behind the server:
//   - by default as NAME.partial, as pg_receivewal keeps it, so that an archive for point-in-time
//     recovery never holds a partial segment under a final name;
//   - with WarmStandby under its final name, so that a standby whose restore_command copies from
//     Dir replays what the primary has written so far (it asks for the segment again until the
//     next one exists).
//
// A finished segment that is gone from pg_wal before it was copied is an error: DIR would have a
// gap no restore can cross. With a Slot the server keeps every segment until it is in Dir.
type Feed struct {
	Conn        *pgx.Conn
	Dir         string
	SegmentSize int64
	Interval    time.Duration
	WarmStandby bool
	Mode        os.FileMode // of the files written in Dir
	Slot        string      // a physical replication slot holding WAL until it is in Dir, or ""
	Log         func(format string, args ...any)

	next   pgformat.Segment     // the first segment not yet in Dir, finished, under its final name
	tli    uint32               // timeline of the last segment seen, for naming a missing one
	slot   *slot                // nil without Slot
	copied map[string]copyState // partial segments and history files, by name
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

// walFile is one file of pg_wal as a scan sees it.
type walFile struct {
	name  string
	ctime time.Time
}

// Run copies until ctx ends, then returns nil; it fails when the server or the directory does,
// or when a segment was lost before it could be copied.
func (f *Feed) Run(ctx context.Context) error {
	f.copied = map[string]copyState{}
	if err := f.start(ctx); err != nil {
		return err
	}
	for {
		if err := f.pass(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.Interval):
		}
	}
}

// start decides where the feed begins: after the newest finished segment in Dir (at it in warm
// standby mode, where a final name may hold a partial copy); in an empty Dir at the slot's
// restart point, or at the redo point of the server's latest checkpoint, the oldest WAL a standby
// restored from a recent base backup can still need.
func (f *Feed) start(ctx context.Context) error {
	if f.Slot != "" { // first: a role that may not have one learns it before anything else
		var err error
		if f.slot, err = holdSlot(ctx, f.Conn, f.Slot); err != nil {
			return err
		}
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
	held, err := readDir(f.Dir, f.SegmentSize)
	if err != nil {
		return err
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

// pass lists pg_wal once and copies what is new: the finished segments from next, in order, then
// the segment being written if it changed. Segments past that one are left alone: they are
// recycled files holding old WAL under a future name.
func (f *Feed) pass(ctx context.Context) error {
	// The position first: every segment before it was finished, so in pg_wal, before the listing.
	writtenLSN, err := session.WrittenLSN(ctx, f.Conn)
	if err != nil {
		return err
	}
	written := pgformat.SegmentOf(writtenLSN, f.SegmentSize)
	const q = `SELECT n, s.change FROM pg_ls_dir('pg_wal', true, false) AS n,
		LATERAL pg_stat_file('pg_wal/' || n, true) AS s
		WHERE (n ~ '^[0-9A-F]{24}$' OR n ~ '^[0-9A-F]{8}\.history$') AND s.change IS NOT NULL`
	rows, err := f.Conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("listing pg_wal: %w", err)
	}
	files, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (walFile, error) {
		var w walFile
		return w, r.Scan(&w.name, &w.ctime)
	})
	if err != nil {
		return fmt.Errorf("listing pg_wal: %w", err)
	}
	segments := map[pgformat.Segment]walFile{}
	for _, w := range files {
		tli, seg, ok := pgformat.ParseName(w.name, f.SegmentSize)
		if !ok {
			if err := f.copyChanged(ctx, w, w.name); err != nil { // a timeline history file
				return err
			}
			continue
		}
		// Names of one segment differ only in their timeline: the newest is the one to follow.
		if old, dup := segments[seg]; !dup || w.name > old.name {
			segments[seg] = w
			if seg >= f.next && tli > f.tli {
				f.tli = tli
			}
		}
	}
	for ; f.next < written; f.next++ {
		w, ok := segments[f.next]
		if !ok {
			name := f.next.Name(f.tli, f.SegmentSize)
			if _, err := os.Stat(filepath.Join(f.Dir, name)); err == nil {
				continue // copied before a restart, in warm standby mode, and finished since
			}
			return f.gap(name)
		}
		if err := f.copyFinished(ctx, w); err != nil {
			return err
		}
	}
	if w, ok := segments[written]; ok && written == f.next {
		name := w.name + partialSuffix
		if f.WarmStandby {
			name = w.name
		}
		return f.copyChanged(ctx, w, name)
	}
	return nil
}

// gap is the error for a segment the server removed before the feed copied it.
func (f *Feed) gap(name string) error {
	remedy := "restart pgpull wal with --slot NAME (a role with REPLICATION) so the server keeps WAL until it is copied, or raise wal_keep_size"
	if f.slot != nil {
		remedy = "the slot " + f.Slot + " was not holding it (dropped, recreated, or past max_slot_wal_keep_size)"
	}
	return fmt.Errorf("WAL segment %s was removed from the server's pg_wal before pgpull wal copied it, so %s has a gap "+
		"that no restore can cross: take a new base backup and feed an empty directory; to avoid it, %s",
		name, f.Dir, remedy)
}

// copyFinished puts a finished segment in Dir under its final name, drops the partial copy it
// replaces, and lets the slot release it.
func (f *Feed) copyFinished(ctx context.Context, w walFile) error {
	data, _, err := f.read(ctx, w.name)
	if err != nil {
		return err
	}
	if data == nil {
		return f.gap(w.name)
	}
	if err := writeDurably(f.Dir, w.name, data, f.Mode, w.name+partialSuffix); err != nil {
		return err
	}
	delete(f.copied, w.name)
	delete(f.copied, w.name+partialSuffix)
	f.Log("copied %s (%d bytes)", w.name, len(data))
	if f.slot != nil {
		_, seg, _ := pgformat.ParseName(w.name, f.SegmentSize)
		return f.slot.advance(ctx, pgformat.LSN(uint64(seg+1)*uint64(f.SegmentSize)))
	}
	return nil
}

// copyChanged copies a file that may still change (the segment being written, a history file)
// as name in Dir, when it changed since its last copy.
func (f *Feed) copyChanged(ctx context.Context, w walFile, name string) error {
	if last, ok := f.copied[name]; ok && !last.stale(w.ctime) {
		return nil
	}
	data, at, err := f.read(ctx, w.name)
	if err != nil || data == nil {
		return err // nil data: gone since the listing; the next pass sees what replaced it
	}
	if err := writeDurably(f.Dir, name, data, f.Mode, ""); err != nil {
		return err
	}
	f.copied[name] = copyState{ctime: w.ctime, at: at}
	f.Log("copied %s (%d bytes)", name, len(data))
	return nil
}

// read reads one file of pg_wal whole, with the server's time of reading; nil data means the
// file is gone.
func (f *Feed) read(ctx context.Context, name string) ([]byte, time.Time, error) {
	return session.ReadFile(ctx, f.Conn, "pg_wal/"+name, session.MaxRead, true)
}
