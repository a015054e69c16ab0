// Package delta is the refresh's stage before fetch: it reads the destination's copy of each range
// and hashes it block by block, so that fetch asks the server only for the blocks that differ.
package delta

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/pgpull/pgpull/pipeline"
)

// Copy is the destination's copy of the backup being refreshed.
type Copy interface {
	// Open opens the local file holding f's bytes for reading, or returns nil and no error when
	// there is none.
	Open(f *pipeline.File) (*os.File, error)
}

// Hasher is the delta stage; run one per core. Each local range is read once: its bytes stay in
// the Piece's Data (within the budget the splitter admitted them to), where fetch overwrites the
// blocks the server sends.
type Hasher struct {
	Copy   Copy
	Budget *pipeline.Budget
	// Compared counts the bytes given a Delta, shared by all Hashers.
	Compared *atomic.Int64
}

// Run hashes the Pieces of each Request from in and sends it to out, until in closes.
func (h *Hasher) Run(ctx context.Context, in <-chan *pipeline.Request, out chan<- *pipeline.Request) error {
	return pipeline.Each(ctx, in, out, func(r *pipeline.Request) error {
		for _, p := range r.Pieces {
			if err := h.hash(p); err != nil {
				return err
			}
		}
		return nil
	})
}

// hash gives p a Delta when the destination holds bytes of its range. Bytes the copy lacks count
// as zeros, which is what the sink's file holds there once it has set the file's size.
func (h *Hasher) hash(p *pipeline.Piece) error {
	f := p.File
	if !f.Fetched() || f.Source == "" || p.Length == 0 || f.ReadTo > 0 {
		return nil
	}
	file, err := h.Copy.Open(f)
	if err != nil || file == nil {
		return err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return fmt.Errorf("reading the local copy of %s: %w", f.Path, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() <= p.Offset {
		return nil
	}
	data := h.Budget.Buffer(p.Length)[:p.Length]
	n, err := file.ReadAt(data, p.Offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the local copy of %s: %w", f.Path, err)
	}
	clear(data[n:])
	blocks := int((p.Length + pipeline.DeltaBlock - 1) / pipeline.DeltaBlock)
	if f.Changed != nil {
		p.Data, p.Delta = data, listed(p, blocks, fi.Size())
		h.Compared.Add(p.Length)
		return nil
	}
	d := &pipeline.Delta{Sums: make([]byte, 0, blocks*sha256.Size), Moved: make([]bool, blocks)}
	for off := int64(0); off < p.Length; off += pipeline.DeltaBlock {
		sum := sha256.Sum256(data[off:min(off+pipeline.DeltaBlock, p.Length)])
		d.Sums = append(d.Sums, sum[:]...)
	}
	p.Data, p.Delta = data, d
	h.Compared.Add(p.Length)
	return nil
}

// listed is the Delta of a Piece whose changed blocks are known: those, and every block the copy
// does not hold whole, are to be read; the others are the copy's as they are.
func listed(p *pipeline.Piece, blocks int, copySize int64) *pipeline.Delta {
	d := &pipeline.Delta{Listed: true, Moved: make([]bool, blocks)}
	first := p.Offset / pipeline.DeltaBlock
	for _, b := range p.File.Changed {
		if i := int64(b) - first; i >= 0 && i < int64(blocks) {
			d.Moved[i] = true
		}
	}
	for i := range d.Moved {
		if p.Offset+int64(i+1)*pipeline.DeltaBlock > copySize {
			d.Moved[i] = true
		}
	}
	return d
}
