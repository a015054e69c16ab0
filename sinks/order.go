package sinks

import (
	"fmt"

	"github.com/pgpull/pgpull/pipeline"
)

// pieceAction is what a sink does with one Piece.
type pieceAction int

const (
	// dropPiece: the Piece belongs to a File that is left out or already complete; just Done it.
	dropPiece pieceAction = iota
	// openFile: the Piece is a File's first; create the entry, then write the Piece.
	openFile
	// continueFile: the Piece carries on the open File at the offset where the last one ended.
	continueFile
)

// fileOrder holds a sink to Sink's contract: Files one after another, each one's Pieces by
// increasing offset without holes. Pieces of one File share its *pipeline.File.
type fileOrder struct {
	open    *pipeline.File // the File being written, nil between Files
	next    int64          // offset the open File's next Piece must start at
	dropped *pipeline.File // the last File left out or completed early, whose later Pieces are dropped
}

// classify says what to do with p, or why p breaks the order.
func (o *fileOrder) classify(p *pipeline.Piece) (pieceAction, error) {
	if o.dropped != nil && p.File == o.dropped {
		return dropPiece, nil
	}
	if p.First() && p.File != o.open {
		if o.open != nil {
			return 0, fmt.Errorf("%q starts before %q is complete (%d of %d bytes)",
				p.File.Path, o.open.Path, o.next, o.open.Size)
		}
		if p.Missing {
			o.dropped = p.File
			return dropPiece, nil
		}
		o.open, o.next, o.dropped = p.File, 0, nil
		return openFile, nil
	}
	if p.File != o.open || p.Offset != o.next {
		return 0, fmt.Errorf("piece of %q at offset %d out of order (expected offset %d of the open file)",
			p.File.Path, p.Offset, o.next)
	}
	return continueFile, nil
}

// written records that p is written, and reports whether that completed its File.
func (o *fileOrder) written(p *pipeline.Piece) bool {
	o.next = p.Offset + p.Length
	if p.Last() {
		o.open = nil
		return true
	}
	return false
}

// completed ends the open File early: a File whose Content was written whole on its first
// Piece. Any later Pieces of it are dropped.
func (o *fileOrder) completed(f *pipeline.File) {
	o.open, o.dropped = nil, f
}

// unfinished reports a File still open when the stream ends.
func (o *fileOrder) unfinished() error {
	if o.open != nil {
		return fmt.Errorf("stream ended inside %q (%d of %d bytes)", o.open.Path, o.next, o.open.Size)
	}
	return nil
}
