package wal

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync/atomic"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/pipeline"
)

// Checker is the WAL check stage. It sits where Pieces pass in stream order, and reads every WAL
// segment's records, from the backup's start through its stop, as PostgreSQL's recovery will
// (pgformat.WALChecker). A segment that fails is read once more from the server; if that copy
// fails too, so does the backup, before the segment is written. Other Pieces pass untouched.
//
// Only one segment is held at a time: each travels as one Piece (pipeline.File.WAL).
type Checker struct {
	wal     *pgformat.WALChecker
	segSize int64
	reread  func(ctx context.Context, f *pipeline.File) ([]byte, error)
	log     func(format string, args ...any)
	stop    atomic.Uint64 // the backup's stop LSN once known; 0 before
	zeros   []byte        // what a segment read in part is checked with past its end
}

// NewChecker makes the stage for WAL from start on timeline tli. The stop LSN is given later, by
// SetStop. reread reads a whole file from the server again: nil bytes when it is gone.
func NewChecker(r pgformat.WALRange, reread func(ctx context.Context, f *pipeline.File) ([]byte, error),
	log func(format string, args ...any)) (*Checker, error) {
	r.Stop = ^pgformat.LSN(0)
	w, err := pgformat.NewWALChecker(r)
	if err != nil {
		return nil, err
	}
	return &Checker{wal: w, segSize: r.SegmentSize, reread: reread, log: log}, nil
}

// SetStop gives the backup's stop LSN. It must be called before the segment holding it can be
// sent, which the scanner ensures: it sends that segment only once it has the stop LSN too.
func (c *Checker) SetStop(lsn pgformat.LSN) { c.stop.Store(uint64(lsn)) }

// Run checks the WAL Pieces of in and forwards every Piece to out. It fails when in closes before
// the WAL reached the stop LSN. It does not close out.
func (c *Checker) Run(ctx context.Context, in <-chan *pipeline.Piece, out chan<- *pipeline.Piece) error {
	stopSet := false
	for {
		var p *pipeline.Piece
		select {
		case <-ctx.Done():
			return ctx.Err()
		case q, ok := <-in:
			if !ok {
				if !stopSet {
					return errors.New("WAL check: the stream ended before the backup's stop LSN was known")
				}
				if err := c.wal.Finish(); err != nil {
					return fmt.Errorf("%w; %s", err, session.KeepWAL)
				}
				c.log("WAL read whole through the stop LSN %s", pgformat.LSN(c.stop.Load()))
				return nil
			}
			p = q
		}
		if !stopSet {
			if stop := c.stop.Load(); stop != 0 {
				if err := c.wal.SetStop(pgformat.LSN(stop)); err != nil {
					return err
				}
				stopSet = true
			}
		}
		if p.File.WAL {
			if err := c.segment(ctx, p); err != nil {
				return err
			}
		}
		if err := pipeline.Send(ctx, out, p); err != nil {
			return err
		}
	}
}

// segment checks one segment, reading it again once if it fails.
func (c *Checker) segment(ctx context.Context, p *pipeline.Piece) error {
	name := path.Base(p.File.Path)
	_, seg, ok := pgformat.ParseName(name, c.segSize)
	if !ok || p.Offset != 0 || p.Length != p.File.Size || int64(len(p.Data)) > p.Length ||
		(int64(len(p.Data)) < p.Length && int64(len(p.Data)) != p.File.ReadEnd(p.Length)) {
		return fmt.Errorf("WAL check: %s at %d+%d (%d bytes) is not a whole segment", p.File.Path, p.Offset, p.Length, len(p.Data))
	}
	first := c.feed(seg, p.Data)
	var bad *pgformat.WALError
	if !errors.As(first, &bad) {
		return first
	}
	c.log("%v; reading the segment again", first)
	data, err := c.reread(ctx, p.File)
	if err != nil {
		return err
	}
	if data == nil {
		return fmt.Errorf("%v; and the server has removed the segment since: %s", first, session.KeepWAL)
	}
	c.wal.Retry()
	if err := c.feed(seg, data); err != nil {
		return fmt.Errorf("%v, read twice; %s", err, session.KeepWAL)
	}
	c.log("WAL segment %s read again is whole", name)
	if len(data) <= len(p.Data) {
		clear(p.Data[copy(p.Data, data):]) // keeps the budget's buffer
	} else {
		p.Data = data
	}
	return nil
}

// feed checks one segment's bytes: data, then zeros to the segment's size, where a segment read
// only through the stop LSN's page (pipeline.File.ReadTo) ends.
func (c *Checker) feed(seg pgformat.Segment, data []byte) error {
	if err := c.wal.BeginSegment(seg); err != nil {
		return err
	}
	if _, err := c.wal.Write(data); err != nil {
		return err
	}
	if c.zeros == nil && int64(len(data)) < c.segSize {
		c.zeros = make([]byte, 64<<10)
	}
	for left := c.segSize - int64(len(data)); left > 0; {
		n := min(left, int64(len(c.zeros)))
		if _, err := c.wal.Write(c.zeros[:n]); err != nil {
			return err
		}
		left -= n
	}
	return c.wal.EndSegment()
}
