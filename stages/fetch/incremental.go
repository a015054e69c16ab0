package fetch

import (
	"context"
	"fmt"
	"strconv"

	"github.com/pgpull/pgpull/pipeline"
)

// blockRun is a stretch of a relation file read into a Piece: length bytes from offset in the
// file, at at in the Piece's Data.
type blockRun struct {
	p                  *pipeline.Piece
	at, offset, length int64
}

// readIncremental fills Pieces of INCREMENTAL files: the header pgpull made, then the changed
// blocks of each relation file (see Piece.Stretches).
func (w *Worker) readIncremental(ctx context.Context, pieces []*pipeline.Piece, stall *stallTimer) error {
	var runs []blockRun
	for _, p := range pieces {
		p.Data = w.Budget.Buffer(p, p.Length)[:p.Length]
		header, stretches := p.Stretches(w.Reader.RowSize())
		copy(p.Data, header)
		for _, s := range stretches {
			runs = append(runs, blockRun{p, s.At, s.SourceOffset, s.Length})
		}
	}
	return w.readRuns(ctx, pieces, runs, stall)
}

// readListed fills Pieces of a refresh whose changed blocks are known (Delta.Listed): Data holds
// the destination's copy, and the blocks marked Moved are read over it.
func (w *Worker) readListed(ctx context.Context, pieces []*pipeline.Piece, stall *stallTimer) error {
	var runs []blockRun
	maxRun := max(w.Reader.RowSize()/pipeline.DeltaBlock, 1)
	for _, p := range pieces {
		moved := p.Delta.Moved
		for i := 0; i < len(moved); {
			if !moved[i] {
				i++
				continue
			}
			j := i
			for j < len(moved) && moved[j] && int64(j-i) < maxRun {
				j++
			}
			at := int64(i) * pipeline.DeltaBlock
			runs = append(runs, blockRun{p, at, p.Offset + at, min(int64(j-i)*pipeline.DeltaBlock, p.Length-at)})
			i = j
		}
	}
	return w.readRuns(ctx, pieces, runs, stall)
}

// readRuns reads runs of consecutive blocks, one row each, for all the Pieces in one batched
// query. A relation file gone from the server marks its Piece Missing, as for a whole file; one
// that shrank leaves zeros, which the WAL from the backup's start replays over, as in a full copy.
func (w *Worker) readRuns(ctx context.Context, pieces []*pipeline.Piece, runs []blockRun, stall *stallTimer) error {
	for _, p := range pieces {
		p.Missing = false
	}
	if len(runs) == 0 {
		return nil
	}
	arrays := newTextArrays(3) // paths, offsets, lengths
	for _, r := range runs {
		arrays.add(arrayElement(r.p.File.Source), strconv.FormatInt(r.offset, 10), strconv.FormatInt(r.length, 10))
	}
	sql, params := w.Reader.BatchQuery(arrays.params())
	rows := w.exec(ctx, sql, params)
	i := 0
	for ; i < len(runs) && rows.Next(); i++ {
		r := runs[i]
		v := rows.Values()[0]
		if v == nil {
			r.p.Missing = true
		}
		dst := r.p.Data[r.at : r.at+r.length]
		got, err := w.Reader.Append(dst[:0], v, r.length)
		if err != nil {
			rows.Close()
			return fatalError{fmt.Errorf("reading %s at %d: %w", r.p.File.Source, r.offset, err)}
		}
		if len(got) > 0 && &got[0] != &dst[0] {
			copy(dst, got) // a Reader that did not decode in place
		}
		clear(dst[min(len(got), len(dst)):])
		if err := w.wait(ctx, len(v), stall); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("reading the changed blocks of %s: %w", pieces[0].File.Source, err)
	}
	if i != len(runs) {
		return fmt.Errorf("server returned %d of %d runs of changed blocks", i, len(runs))
	}
	return nil
}

// splitIncremental takes the Pieces of INCREMENTAL files out of pieces.
func splitIncremental(pieces []*pipeline.Piece) (rest, incremental []*pipeline.Piece) {
	for _, p := range pieces {
		if p.File.Incremental != nil && p.Length > 0 {
			incremental = append(incremental, p)
		} else {
			rest = append(rest, p)
		}
	}
	return rest, incremental
}
