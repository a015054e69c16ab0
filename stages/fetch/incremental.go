package fetch

import (
	"context"
	"fmt"
	"strconv"

	"github.com/pgpull/pgpull/pipeline"
)

// readIncremental fills Pieces of INCREMENTAL files: the header pgpull made, then the changed
// blocks of each relation file, read for all the Pieces in one batched query whose rows each
// carry a run of consecutive blocks (see Piece.Stretches). A relation file gone from the server
// marks its Piece Missing, as for a whole file; one that shrank since its blocks were chosen
// leaves zeros, which the WAL from the backup's start replays over, as in a full copy.
func (w *Worker) readIncremental(ctx context.Context, pieces []*pipeline.Piece, stall *stallTimer) error {
	type target struct {
		p *pipeline.Piece
		s pipeline.Stretch
	}
	arrays := newTextArrays(3) // paths, offsets, lengths
	var targets []target
	for _, p := range pieces {
		p.Data = w.Budget.Buffer(p.Length)[:p.Length]
		p.Missing = false
		header, stretches := p.Stretches(w.Reader.RowSize())
		copy(p.Data, header)
		for _, s := range stretches {
			arrays.add(arrayElement(p.File.Source), strconv.FormatInt(s.SourceOffset, 10), strconv.FormatInt(s.Length, 10))
			targets = append(targets, target{p, s})
		}
	}
	if len(targets) == 0 {
		return nil
	}
	rows := w.exec(ctx, w.Reader.BatchSQL(), arrays.params())
	i := 0
	for ; i < len(targets) && rows.Next(); i++ {
		t := targets[i]
		v := rows.Values()[0]
		if v == nil {
			t.p.Missing = true
		}
		dst := t.p.Data[t.s.At : t.s.At : t.s.At+t.s.Length]
		got, err := w.Reader.Append(dst, v, t.s.Length)
		if err != nil {
			rows.Close()
			return fatalError{fmt.Errorf("reading %s at %d: %w", t.p.File.Source, t.s.SourceOffset, err)}
		}
		if len(got) > 0 && &got[0] != &t.p.Data[t.s.At] {
			copy(t.p.Data[t.s.At:t.s.At+t.s.Length], got) // a Reader that did not decode in place
		}
		clear(t.p.Data[t.s.At+min(int64(len(got)), t.s.Length) : t.s.At+t.s.Length])
		if err := w.wait(ctx, len(v), stall); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("reading the changed blocks of %s: %w", pieces[0].File.Source, err)
	}
	if i != len(targets) {
		return fmt.Errorf("server returned %d of %d runs of changed blocks", i, len(targets))
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

// readListed fills Pieces of a refresh whose changed blocks are known (Delta.Listed): Data holds
// the destination's copy, and the blocks marked Moved are read over it, runs of consecutive ones
// in one row each, for all the Pieces in one query.
func (w *Worker) readListed(ctx context.Context, pieces []*pipeline.Piece, stall *stallTimer) error {
	type target struct {
		p       *pipeline.Piece
		at, len int64
	}
	arrays := newTextArrays(3) // paths, offsets, lengths
	var targets []target
	maxRun := max(w.Reader.RowSize()/pipeline.DeltaBlock, 1)
	for _, p := range pieces {
		p.Missing = false
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
			n := min(int64(j-i)*pipeline.DeltaBlock, p.Length-at)
			arrays.add(arrayElement(p.File.Source), strconv.FormatInt(p.Offset+at, 10), strconv.FormatInt(n, 10))
			targets = append(targets, target{p, at, n})
			i = j
		}
	}
	if len(targets) == 0 {
		return nil
	}
	rows := w.exec(ctx, w.Reader.BatchSQL(), arrays.params())
	i := 0
	for ; i < len(targets) && rows.Next(); i++ {
		t := targets[i]
		v := rows.Values()[0]
		if v == nil {
			t.p.Missing = true
		}
		dst := t.p.Data[t.at : t.at : t.at+t.len]
		got, err := w.Reader.Append(dst, v, t.len)
		if err != nil {
			rows.Close()
			return fatalError{fmt.Errorf("reading %s at %d: %w", t.p.File.Source, t.p.Offset+t.at, err)}
		}
		if len(got) > 0 && &got[0] != &t.p.Data[t.at] {
			copy(t.p.Data[t.at:t.at+t.len], got)
		}
		clear(t.p.Data[t.at+min(int64(len(got)), t.len) : t.at+t.len]) // the file shrank: zeros, as a whole read pads
		if err := w.wait(ctx, len(v), stall); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("reading the changed blocks of %s: %w", pieces[0].File.Source, err)
	}
	if i != len(targets) {
		return fmt.Errorf("server returned %d of %d runs of changed blocks", i, len(targets))
	}
	return nil
}
