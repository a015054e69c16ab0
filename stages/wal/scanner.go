package wal

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/pipeline"
)

// Scanner is the WAL source stage. Every Interval it lists pg_wal and sends each segment from the
// backup's start that the server has finished writing, once; when the backup's stop LSN arrives on
// Stop it sends the rest through the stop segment, the timeline history files, and an
// archive_status .done marker for each, as pg_basebackup -X fetch writes them, and returns.
//
// Only finished segments are sent, so each one appears in a tar stream exactly once and whole;
// copying them while the backup runs, rather than at its end, is what keeps a long backup from
// losing WAL to a checkpoint when no replication slot holds it. pg_basebackup.py, where this
// loop comes from, fetched a segment again whenever its ctime changed; in a stream that would put
// the same member in twice, so the scan asks the server how far it has written instead: a segment
// wholly behind that position will not change again.
type Scanner struct {
	Conn        *pgx.Conn // the scanner's own connection
	SegmentSize int64
	BlockSize   int64 // WAL page size: the last segment is read through the page holding the stop LSN
	Start       pgformat.LSN
	Timeline    uint32 // the backup's, to name segments in messages
	// Standby says the server is in recovery, where the WAL through the stop LSN may still be
	// arriving after pg_backup_stop: it is waited for. A primary's pg_backup_stop has written it.
	Standby  bool
	Interval time.Duration
	Stop     <-chan Stop
	Log      func(format string, args ...any)
	// Timeout bounds each of the scan's statements, which a live server answers at once: with
	// the fetch workers idle, a connection gone silent would otherwise hold the run; 0 for none.
	Timeout time.Duration
}

// Stop is the backup's end as the scanner is told it: the stop LSN, and pg_wal's WAL files as
// listed after the stop (session.Stop.WAL), nil for the scanner to list them itself.
type Stop struct {
	LSN pgformat.LSN
	WAL []string
}

// Run scans until the stop LSN is known and its segment sent. It does not close out.
func (s *Scanner) Run(ctx context.Context, out chan<- pipeline.Item) error {
	next := pgformat.SegmentOf(s.Start, s.SegmentSize)
	tick := time.NewTicker(s.Interval)
	defer tick.Stop()
	for {
		var limit pgformat.Segment // first segment not to send yet
		var end *Stop              // set once the backup has stopped
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			written, err := s.writtenLSN(ctx)
			if err != nil {
				return err
			}
			limit = pgformat.SegmentOf(written, s.SegmentSize)
			select {
			case e := <-s.Stop: // came meanwhile: the last look goes first, with the stop's listing
				end = &e
			default:
			}
		case e := <-s.Stop:
			end = &e
		}
		final, readTo := end != nil, int64(0)
		var listed []string // pg_wal's files, when the stop came with them
		if final {
			if s.Standby {
				if err := s.waitWritten(ctx, end.LSN); err != nil {
					return err
				}
			}
			limit = pgformat.LastSegmentBefore(end.LSN, s.SegmentSize) + 1
			readTo, listed = s.lastSegmentReadTo(end.LSN), end.WAL
		}
		if limit > next || final {
			names, err := s.names(ctx, listed)
			if err != nil {
				return err
			}
			for ; next < limit; next++ {
				name, ok := names.segments[next]
				if !ok {
					return fmt.Errorf("WAL segment %s was removed from the server before pgpull could copy it; %s",
						next.Name(s.Timeline, s.SegmentSize), session.KeepWAL)
				}
				to := int64(0)
				if final && next == limit-1 {
					to = readTo
				}
				if err := s.send(ctx, out, "pg_wal/"+name, s.SegmentSize, to); err != nil {
					return err
				}
			}
			if final {
				for _, h := range names.histories {
					if err := s.send(ctx, out, "pg_wal/"+h, -1, 0); err != nil {
						return err
					}
				}
				return nil
			}
		}
	}
}

// walNames is one scan of pg_wal.
type walNames struct {
	segments  map[pgformat.Segment]string // the file for each segment, of the highest timeline
	histories []string
}

// names is pg_wal's WAL files: listed, when the stop came with them, or as the server lists
// them now.
func (s *Scanner) names(ctx context.Context, listed []string) (walNames, error) {
	if listed == nil {
		var err error
		if listed, err = s.list(ctx); err != nil {
			return walNames{}, err
		}
	}
	w := walNames{segments: map[pgformat.Segment]string{}}
	for _, n := range listed {
		if _, seg, ok := pgformat.ParseName(n, s.SegmentSize); ok {
			// Names of one segment differ only in their leading timeline: keep the newest.
			if old, dup := w.segments[seg]; !dup || n > old {
				w.segments[seg] = n
			}
			continue
		}
		w.histories = append(w.histories, n)
	}
	sort.Strings(w.histories)
	return w, nil
}

func (s *Scanner) list(ctx context.Context) ([]string, error) {
	qctx, cancel := session.AnswerWithin(ctx, s.Timeout, "")
	defer cancel()
	rows, err := s.Conn.Query(qctx, session.ListWALQuery)
	if err != nil {
		return nil, fmt.Errorf("listing pg_wal: %w", session.Silence(qctx, err))
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing pg_wal: %w", session.Silence(qctx, err))
	}
	return names, nil
}

// lastSegmentReadTo is how much of the segment holding the stop LSN end is read from the server:
// through the page holding the byte before end, whose records recovery and pg_waldump read (the
// long header of the segment's first page among them); 0 for all of it.
func (s *Scanner) lastSegmentReadTo(end pgformat.LSN) int64 {
	if s.BlockSize <= 0 {
		return 0
	}
	seg := pgformat.LastSegmentBefore(end, s.SegmentSize)
	within := int64(uint64(end) - uint64(seg)*uint64(s.SegmentSize)) // in (0, SegmentSize]
	to := (within + s.BlockSize - 1) / s.BlockSize * s.BlockSize
	if to >= s.SegmentSize {
		return 0
	}
	return to
}

// send emits one WAL file and its .done marker. size -1 means "as large as the server says", for
// history files; segments have the segment size. readTo is File.ReadTo.
func (s *Scanner) send(ctx context.Context, out chan<- pipeline.Item, path string, size, readTo int64) error {
	now := time.Now()
	segment := size >= 0
	if size < 0 {
		q := `SELECT size FROM pg_stat_file($1)`
		qctx, cancel := session.AnswerWithin(ctx, s.Timeout, "")
		err := s.Conn.QueryRow(qctx, q, path).Scan(&size)
		cancel()
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, session.Silence(qctx, err))
		}
	}
	s.Log("WAL %s", path)
	files := []*pipeline.File{
		{Path: path, Source: path, Size: size, ReadTo: readTo, ModTime: now, Required: true, WAL: segment, Segment: -1},
		{Path: "pg_wal/archive_status/" + path[len("pg_wal/"):] + ".done", Content: []byte{}, ModTime: now, Segment: -1},
	}
	for _, f := range files {
		if err := pipeline.Send(ctx, out, pipeline.Item{File: f}); err != nil {
			return err
		}
	}
	return nil
}

// writtenLSN is how far the server has written WAL; segments before it are finished.
func (s *Scanner) writtenLSN(ctx context.Context) (pgformat.LSN, error) {
	qctx, cancel := session.AnswerWithin(ctx, s.Timeout, "")
	defer cancel()
	lsn, err := session.WrittenLSN(qctx, s.Conn)
	if silent := session.Silence(qctx, err); silent != err {
		err = fmt.Errorf("reading the WAL position: %w", silent)
	}
	return lsn, err
}

// waitWritten waits until WAL up to end is on a standby's disk: it may still be receiving it.
func (s *Scanner) waitWritten(ctx context.Context, end pgformat.LSN) error {
	for {
		w, err := s.writtenLSN(ctx)
		if err != nil || w >= end {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
