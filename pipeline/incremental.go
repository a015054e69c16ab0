package pipeline

import "github.com/pgpull/pgpull/internal/pgformat"

// Stretch is a part of a Piece of an INCREMENTAL file read from the server: Length bytes of the
// relation file from SourceOffset, which go at At in the Piece's Data.
type Stretch struct {
	At, SourceOffset, Length int64
}

// Stretches maps the Piece's bytes of an INCREMENTAL file to where they come from: header, the
// part of the header the Piece holds (copied at the Piece's start), and the stretches of the
// relation file to read, consecutive blocks joined up to maxLength bytes each, so that a Piece of
// many changed blocks costs a few rows rather than one per block.
func (p *Piece) Stretches(maxLength int64) (header []byte, stretches []Stretch) {
	h := p.File.Incremental
	hsize := h.HeaderSize()
	end := p.Offset + p.Length
	if p.Offset < hsize {
		header = h.Bytes()[p.Offset:min(end, hsize)]
	}
	first := max(p.Offset, hsize)
	for at := first; at < end; {
		i := (at - hsize) / pgformat.BlockSize
		within := (at - hsize) % pgformat.BlockSize // a Piece may start inside a page
		s := Stretch{At: at - p.Offset, SourceOffset: int64(h.Blocks[i])*pgformat.BlockSize + within}
		s.Length = min(pgformat.BlockSize-within, end-at)
		at += s.Length
		for at < end && s.Length < maxLength {
			i++
			if h.Blocks[i] != h.Blocks[i-1]+1 {
				break
			}
			n := min(pgformat.BlockSize, end-at, maxLength-s.Length)
			s.Length += n
			at += n
			if n < pgformat.BlockSize {
				break
			}
		}
		stretches = append(stretches, s)
	}
	return header, stretches
}
