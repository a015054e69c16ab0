package fetch

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"

	"github.com/pgpull/pgpull/pipeline"
)

// compareParamFormats: the sums ($5) go as raw bytes, the rest as text.
func compareParamFormats() []int16 { return []int16{0, 0, 0, 0, 1} }

// compareResultFormats: the result's numbers come as text, its blocks as raw bytes.
func compareResultFormats() []int16 { return []int16{0, 0, 1} }

// compare fills Pieces that carry a Delta: Data already holds the destination's bytes, and only
// the blocks the server sends are replaced. A block the server sends short (the file shrank) is
// completed with zeros, as readRange pads a short range.
func (w *Worker) compare(ctx context.Context, pieces []*pipeline.Piece, stall *stallTimer) error {
	arrays := newTextArrays(4) // paths, offsets, sizes, where each Piece's sums start
	var sums []byte
	for _, p := range pieces {
		arrays.add(arrayElement(p.File.Source), strconv.FormatInt(p.Offset, 10), strconv.FormatInt(p.Length, 10),
			strconv.Itoa(len(sums)/sha256.Size))
		sums = append(sums, p.Delta.Sums...)
		p.Missing = false
	}
	params := append(arrays.params(), sums)
	if w.LogSQL != nil {
		w.LogSQL(fmt.Sprintf("%s -- $1 = %q, $2 = %q, $3 = %q, $4 = %q, $5 = %d block sums", compareSQL,
			params[0], params[1], params[2], params[3], len(sums)/sha256.Size))
	}
	rr := w.conn.Query(ctx, compareSQL, params, compareParamFormats(), compareResultFormats())
	for rr.Next() {
		v := rr.Values()
		n, err1 := strconv.Atoi(string(v[0]))
		block, err2 := strconv.Atoi(string(v[1]))
		if err1 != nil || err2 != nil || n < 1 || n > len(pieces) || block < 0 || block >= pieces[n-1].Delta.Blocks() {
			rr.Close()
			return fatalError{fmt.Errorf("comparing %d files from %s: the server answered block %q of piece %q", len(pieces), pieces[0].File.Path, v[1], v[0])}
		}
		p := pieces[n-1]
		off := int64(block) * pipeline.DeltaBlock
		dst := p.Data[off:min(off+pipeline.DeltaBlock, p.Length)]
		if len(v[2]) > len(dst) {
			rr.Close()
			return fatalError{fmt.Errorf("comparing %s at %d: the server sent %d bytes for a block of %d", p.File.Path, p.Offset+off, len(v[2]), len(dst))}
		}
		clear(dst[copy(dst, v[2]):])
		p.Missing = p.Missing || v[2] == nil
		p.Delta.Moved[block] = true
		if err := w.wait(ctx, len(v[2]), stall); err != nil {
			rr.Close()
			return err
		}
	}
	if err := rr.Close(); err != nil {
		return fmt.Errorf("comparing %d files from %s: %w", len(pieces), pieces[0].File.Path, err)
	}
	return nil
}

// splitCompared parts a Request's Pieces into those read whole and those compared with the
// destination. A name compareSQL cannot carry as text (not valid UTF-8) is read whole.
func splitCompared(pieces []*pipeline.Piece) (whole, compared []*pipeline.Piece) {
	for _, p := range pieces {
		switch {
		case p.Delta == nil:
			whole = append(whole, p)
		case !validName(p.File.Source):
			p.Delta = nil
			whole = append(whole, p)
		default:
			compared = append(compared, p)
		}
	}
	return whole, compared
}

// splitListed takes the compared Pieces whose changed blocks are known out of compared.
func splitListed(compared []*pipeline.Piece) (hashed, listed []*pipeline.Piece) {
	for _, p := range compared {
		if p.Delta.Listed {
			listed = append(listed, p)
		} else {
			hashed = append(hashed, p)
		}
	}
	return hashed, listed
}
