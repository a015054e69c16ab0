package fetch

import (
	"context"
	"fmt"
	"strconv"

	"github.com/pgpull/pgpull/pipeline"
)

// The reads a Worker makes of one Request, whole or batched, and what it does with short ones.

// readRange reads one Piece as rows of the Reader's RowSize: a range of a large file, or a small
// file whose name cannot go in a batch.
func (w *Worker) readRange(ctx context.Context, p *pipeline.Piece, stall *stallTimer) error {
	if p.File.Source == "" || p.Length == 0 {
		return nil
	}
	row, end := w.Reader.RowSize(), p.File.ReadEnd(p.Offset+p.Length)
	// Past ReadTo the Piece is zeros, which Data leaves out (pipeline.Piece.Data): held, they
	// would be most of the backup's last WAL segment, 16 MB written for the first time, a page
	// fault per 4 KiB, 60 ms of CPU on the bench machine at the very end of every backup.
	held := max(end-p.Offset, 0)
	p.Data = w.Budget.Buffer(p, held)
	p.Missing = false
	r := w.Reader
	if !validName(p.File.Source) {
		r = BinaryFile{} // the helper takes its path as text; names that are not are rare
		row = r.RowSize()
	}
	if end <= p.Offset {
		pad(p, held)
		return nil
	}
	sql, params := r.RangeQuery(p.File, p.Offset, end)
	rows := w.exec(ctx, sql, params)
	for at := p.Offset; rows.Next(); at += row {
		v := rows.Values()[0]
		if v == nil && at == p.Offset {
			p.Missing = true
		}
		var err error
		if p.Data, err = r.Append(p.Data, v, min(row, end-at)); err != nil {
			rows.Close()
			return fatalError{fmt.Errorf("reading %s at %d: %w", p.File.Path, at, err)}
		}
		if err := w.wait(ctx, len(v), stall); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("reading %s at %d: %w", p.File.Path, p.Offset, err)
	}
	pad(p, held)
	return nil
}

// readBatch reads several small Pieces in one query, one row each.
func (w *Worker) readBatch(ctx context.Context, pieces []*pipeline.Piece, stall *stallTimer) error {
	arrays := newTextArrays(3) // paths, offsets, sizes
	var todo, raw []*pipeline.Piece
	for _, p := range pieces {
		if p.File.Source == "" || p.Length == 0 {
			continue
		}
		if !validName(p.File.Source) || p.File.ReadEnd(p.Offset+p.Length) < p.Offset+p.Length {
			raw = append(raw, p) // readRange reads it, to where the server's bytes end
			continue
		}
		arrays.add(arrayElement(p.File.Source), strconv.FormatInt(p.Offset, 10), strconv.FormatInt(p.Length, 10))
		todo = append(todo, p)
	}
	for _, p := range raw {
		if err := w.readRange(ctx, p, stall); err != nil {
			return err
		}
	}
	if len(todo) == 0 {
		return nil
	}
	carved := w.Budget.Carve(todo)
	sql, params := w.Reader.BatchQuery(arrays.params())
	rows := w.exec(ctx, sql, params)
	i := 0
	for rows.Next() {
		if i >= len(todo) {
			break
		}
		p := todo[i]
		v := rows.Values()[0]
		p.Missing = v == nil
		buf := p.Data[:0]
		if !carved {
			buf = w.Budget.Buffer(p, p.Length)
		}
		var err error
		if p.Data, err = w.Reader.Append(buf, v, p.Length); err != nil {
			rows.Close()
			return fatalError{fmt.Errorf("reading %s: %w", p.File.Path, err)}
		}
		pad(p, p.Length)
		i++
		if err := w.wait(ctx, len(v), stall); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("reading %d files from %s: %w", len(todo), todo[0].File.Path, err)
	}
	if i != len(todo) {
		return fmt.Errorf("server returned %d of %d files", i, len(todo))
	}
	return nil
}

// reread reads one stretch of a file again, for page verification.
func (w *Worker) reread(ctx context.Context, f *pipeline.File, off, n int64) ([]byte, error) {
	sql, params := rangeQuery(f, off, n, off+n)
	page, err := readFirst(w.exec(ctx, sql, params))
	if err != nil {
		return nil, fmt.Errorf("reading %s at %d again: %w", f.Path, off, err)
	}
	return page, nil
}

func (w *Worker) wait(ctx context.Context, n int, stall *stallTimer) error {
	if w.Received != nil {
		w.Received.Add(int64(n))
	}
	if w.Limiter == nil || n == 0 {
		stall.progress()
		return nil
	}
	stall.pause()
	defer stall.progress()
	// WaitN refuses more than the burst at once, and a row may be larger (a whole small file in a
	// batch): pay for it in parts.
	for burst := w.Limiter.Burst(); n > 0; n -= burst {
		if err := w.Limiter.WaitN(ctx, min(n, burst)); err != nil {
			return err
		}
	}
	return nil
}

// pad brings a Piece's Data to length, its listed length or, for a File with ReadTo, what is
// read of it. A file that shrank during the copy is filled with zeros to the size its tar header
// already declared, as pg_basebackup does; WAL replay rewrites those blocks. A WAL segment padded
// so is no WAL: the WAL check finds the zeros and reads the segment again.
func pad(p *pipeline.Piece, length int64) {
	n := len(p.Data)
	if int64(n) >= length {
		p.Data = p.Data[:length]
		return
	}
	if int64(cap(p.Data)) >= length {
		p.Data = p.Data[:length]
		clear(p.Data[n:])
		return
	}
	p.Data = append(p.Data, make([]byte, length-int64(n))...)
}
