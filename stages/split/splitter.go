// Package split is the split stage: it cuts large files into ranges and gathers small ones into
// batches, so that every request to the server moves about the same number of bytes.
package split

import (
	"context"

	"github.com/pgpull/pgpull/pipeline"
)

// Splitter turns Items into Requests and numbers their Pieces in stream order. Each Request is
// admitted to the Budget before it is sent, which is what bounds the bytes in flight.
type Splitter struct {
	RangeSize int64
	// SmallFile is the size at or under which a file is batched with others.
	SmallFile int64
	// BatchFiles caps the files in one batch, to keep its query short.
	BatchFiles int
	Budget     *pipeline.Budget

	seq   uint64
	batch pipeline.Request
	bytes int64
}

// Run reads in until it closes. It does not close out.
func (s *Splitter) Run(ctx context.Context, in <-chan pipeline.Item, out chan<- *pipeline.Request) error {
	for {
		var it pipeline.Item
		var ok bool
		select {
		case it, ok = <-in:
		default:
			// Nothing waiting: send the partial batch rather than hold it while a source idles.
			if err := s.flush(ctx, out); err != nil {
				return err
			}
			select {
			case it, ok = <-in:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok {
			return s.flush(ctx, out)
		}
		if it.Barrier != nil {
			if err := s.flush(ctx, out); err != nil {
				return err
			}
			if err := s.Budget.Drain(ctx); err != nil {
				return err
			}
			close(it.Barrier)
			continue
		}
		if err := s.add(ctx, out, it.File); err != nil {
			return err
		}
	}
}

func (s *Splitter) add(ctx context.Context, out chan<- *pipeline.Request, f *pipeline.File) error {
	if !f.Fetched() || f.Size <= s.SmallFile {
		p := &pipeline.Piece{File: f, Length: f.Size}
		if f.Dir {
			p.Length = 0
		}
		if f.Content != nil {
			p.Length, p.Data = int64(len(f.Content)), f.Content
		}
		s.batch.Pieces = append(s.batch.Pieces, p)
		s.bytes += p.Length
		if s.bytes >= s.RangeSize || len(s.batch.Pieces) >= s.BatchFiles {
			return s.flush(ctx, out)
		}
		return nil
	}
	if err := s.flush(ctx, out); err != nil {
		return err
	}
	if f.WAL {
		return s.send(ctx, out, &pipeline.Request{Pieces: []*pipeline.Piece{{File: f, Length: f.Size}}})
	}
	for off := int64(0); off < f.Size; off += s.RangeSize {
		n := min(s.RangeSize, f.Size-off)
		r := &pipeline.Request{Pieces: []*pipeline.Piece{{File: f, Offset: off, Length: n}}}
		if err := s.send(ctx, out, r); err != nil {
			return err
		}
	}
	return nil
}

func (s *Splitter) flush(ctx context.Context, out chan<- *pipeline.Request) error {
	if len(s.batch.Pieces) == 0 {
		return nil
	}
	r := &pipeline.Request{Pieces: s.batch.Pieces}
	s.batch.Pieces, s.bytes = nil, 0
	return s.send(ctx, out, r)
}

func (s *Splitter) send(ctx context.Context, out chan<- *pipeline.Request, r *pipeline.Request) error {
	for _, p := range r.Pieces {
		p.Seq = s.seq
		s.seq++
	}
	if err := s.Budget.Admit(ctx, r); err != nil {
		return err
	}
	return pipeline.Send(ctx, out, r)
}
