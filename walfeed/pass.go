package walfeed

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
)

// walFile is one file of pg_wal as a look at it sees it.
type walFile struct {
	name  string
	ctime time.Time
}

// listing is one look at pg_wal: the timeline history files, oldest timeline first, and for each
// segment number the file of the newest timeline, the one recovery reads.
type listing struct {
	histories []walFile
	segments  map[pgformat.Segment]walFile
}

// pass looks at pg_wal once and copies what is new: history files first (a standby following the
// archive learns of a new timeline before it meets its segments), then the finished segments from
// next, in order, then the segment being written if it changed. Segments past that one are left
// alone: they are recycled files holding old WAL under a future name. busy reports that a
// finished segment was copied: the server may have finished more meanwhile.
func (f *Feed) pass(ctx context.Context) (busy bool, err error) {
	// The position first: every segment before it was finished, so in pg_wal, before the listing.
	writtenLSN, err := session.WrittenLSN(ctx, f.Conn)
	if err != nil {
		return false, err
	}
	f.writtenLSN = writtenLSN
	written := pgformat.SegmentOf(writtenLSN, f.SegmentSize)
	l, err := f.list(ctx)
	if err != nil {
		return false, err
	}
	for _, h := range l.histories {
		if err := f.copyHistory(ctx, h); err != nil {
			return false, err
		}
	}
	f.noteLag(written, l)
	copied, err := f.copyFinished(ctx, l, written)
	if err != nil {
		return false, err
	}
	return copied > 0, f.copyWritten(ctx, l, written)
}

func (f *Feed) list(ctx context.Context) (listing, error) {
	const q = `SELECT n, s.change FROM pg_ls_dir('pg_wal', true, false) AS n,
		LATERAL pg_stat_file('pg_wal/' || n, true) AS s
		WHERE (n ~ '^[0-9A-F]{24}$' OR n ~ '^[0-9A-F]{8}\.history$') AND s.change IS NOT NULL`
	rows, err := f.Conn.Query(ctx, q)
	if err != nil {
		return listing{}, fmt.Errorf("listing pg_wal: %w", err)
	}
	files, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (walFile, error) {
		var w walFile
		return w, r.Scan(&w.name, &w.ctime)
	})
	if err != nil {
		return listing{}, fmt.Errorf("listing pg_wal: %w", err)
	}
	l := listing{segments: map[pgformat.Segment]walFile{}}
	for _, w := range files {
		_, seg, ok := pgformat.ParseName(w.name, f.SegmentSize)
		if !ok {
			l.histories = append(l.histories, w)
			continue
		}
		// Names of one segment differ only in their timeline: the newest is the one to follow.
		if old, dup := l.segments[seg]; !dup || w.name > old.name {
			l.segments[seg] = w
		}
	}
	slices.SortFunc(l.histories, func(a, b walFile) int { return strings.Compare(a.name, b.name) })
	return l, nil
}

// copyFinished copies the finished segments from next, in order, and returns how many.
func (f *Feed) copyFinished(ctx context.Context, l listing, written pgformat.Segment) (int, error) {
	copied := 0
	for f.next < written {
		w, ok := l.segments[f.next]
		if !ok {
			whole, err := f.Archive.heldWhole(ctx, f.next.Name(f.tli, f.SegmentSize))
			if err != nil {
				return copied, err
			}
			if whole { // copied finished before a restart, in warm standby mode
				f.next++
				continue
			}
			if err := f.skipGap(l, written); err != nil {
				return copied, err
			}
			continue
		}
		done, err := f.copySegment(ctx, w)
		if err != nil {
			return copied, err
		}
		if !done { // gone since the listing
			if err := f.skipGap(l, written); err != nil {
				return copied, err
			}
			continue
		}
		copied++
		f.next++
	}
	return copied, nil
}

// copySegment puts a finished segment in the archive under its final name, drops the partial
// copy it replaces, and lets the slot release it. It returns false when the segment is gone.
func (f *Feed) copySegment(ctx context.Context, w walFile) (bool, error) {
	data, _, err := f.readSegment(ctx, w.name)
	if err != nil || data == nil {
		return false, err
	}
	if err := f.store(ctx, w.name, data, w.name+partialSuffix); err != nil {
		return false, err
	}
	if err := f.Archive.noteWhole(ctx, w.name); err != nil {
		return false, err
	}
	delete(f.copied, w.name)
	delete(f.copied, w.name+partialSuffix)
	f.Log("copied %s (%d bytes)", w.name, len(data))
	tli, seg, _ := pgformat.ParseName(w.name, f.SegmentSize)
	f.tli = tli
	if f.slot != nil {
		return true, f.slot.advance(ctx, pgformat.LSN(uint64(seg+1)*uint64(f.SegmentSize)))
	}
	return true, nil
}

// copyWritten copies the segment being written, when the archive takes it: as NAME.partial, or
// under its final name for a warm standby.
func (f *Feed) copyWritten(ctx context.Context, l listing, written pgformat.Segment) error {
	w, ok := l.segments[written]
	if !ok || written != f.next || !f.Archive.keepsPartial() {
		return nil
	}
	name := w.name + partialSuffix
	if f.WarmStandby {
		name = w.name
	}
	_, err := f.copyChanged(ctx, w, name, f.readSegment)
	return err
}

// copyChanged copies a file that may still change (the segment being written, a history file)
// as name, read by read, when it changed since its last copy, and returns what it copied: nil
// when it copied nothing, or the file is gone since the listing (the next pass sees what
// replaced it).
func (f *Feed) copyChanged(ctx context.Context, w walFile, name string, read readFunc) ([]byte, error) {
	if last, ok := f.copied[name]; ok && !last.stale(w.ctime) {
		return nil, nil
	}
	data, at, err := read(ctx, w.name)
	if err != nil || data == nil {
		return nil, err
	}
	if err := f.store(ctx, name, data, ""); err != nil {
		return nil, err
	}
	f.copied[name] = copyState{ctime: w.ctime, at: at}
	f.Log("copied %s (%d bytes)", name, len(data))
	return data, nil
}

// readFunc reads one file of pg_wal whole, with the server's time of reading; nil data means the
// file is gone.
type readFunc func(ctx context.Context, name string) ([]byte, time.Time, error)

// read reads a small file of pg_wal (a history file) whole.
func (f *Feed) read(ctx context.Context, name string) ([]byte, time.Time, error) {
	return session.ReadFile(ctx, f.Conn, "pg_wal/"+name, session.MaxRead, true)
}
