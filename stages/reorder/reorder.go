// Package reorder puts fetched Pieces back in stream order.
//
// Fetch workers finish Requests in any order; everything after them (checksums, the sink) needs
// Pieces by increasing Seq. The window holds early arrivals until the Pieces before them come in.
// It needs no limit of its own: the Budget admits Requests in Seq order, so the Piece the window
// waits for always holds its share and the bytes held are bounded by the Budget.
package reorder

import (
	"context"
	"fmt"

	"github.com/pgpull/pgpull/pipeline"
)

// Run reads Requests from in, in any order, and sends their Pieces to out strictly by Seq,
// starting at 0. Seqs must be contiguous and unique across the stream.
//
// Run does not close out; the caller does, once Run returns. It returns nil when in is closed and
// every Piece has been sent, an error naming the first missing Seq when in closes with Pieces
// still held, and ctx.Err() when ctx ends first. On error it calls Done on the Pieces it holds,
// so their bytes go back to the Budget.
func Run(ctx context.Context, in <-chan *pipeline.Request, out chan<- *pipeline.Piece) (err error) {
	// A map keyed by Seq: the window's bookkeeping is O(pieces held), and finding the next Piece
	// is one lookup instead of a heap pop.
	held := make(map[uint64]*pipeline.Piece)
	var next uint64
	defer func() {
		if err != nil {
			for _, p := range held {
				p.Done()
			}
		}
	}()

	for {
		var r *pipeline.Request
		var ok bool
		select {
		case r, ok = <-in:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			if len(held) > 0 {
				return fmt.Errorf("reorder: input ended with %d pieces held, waiting for piece %d", len(held), next)
			}
			return nil
		}
		for i, p := range r.Pieces {
			if p.Seq < next || held[p.Seq] != nil {
				for _, q := range r.Pieces[i:] {
					if held[q.Seq] != q {
						q.Done()
					}
				}
				return fmt.Errorf("reorder: piece %d (%s at offset %d) arrived twice", p.Seq, p.File.Path, p.Offset)
			}
			held[p.Seq] = p
		}
		for {
			p := held[next]
			if p == nil {
				break
			}
			if err := pipeline.Send(ctx, out, p); err != nil {
				return err
			}
			delete(held, next)
			next++
		}
	}
}
