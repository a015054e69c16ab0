package sinks

import (
	"fmt"
	"io"

	"github.com/pgpull/pgpull/pipeline"
)

// writePiece writes p's Length bytes to w: its Data, then zeros for whatever Data lacks (a Piece
// of a file that vanished mid-read may come without Data, one of a File with ReadTo ends where
// the read did). Data is handed to w as is, uncopied.
func writePiece(w io.Writer, p *pipeline.Piece) error {
	if int64(len(p.Data)) > p.Length {
		return fmt.Errorf("piece of %q at offset %d holds %d bytes, more than its length %d",
			p.File.Path, p.Offset, len(p.Data), p.Length)
	}
	if _, err := w.Write(p.Data); err != nil {
		return err
	}
	if short := p.Length - int64(len(p.Data)); short > 0 {
		if _, err := io.CopyN(w, zeros{}, short); err != nil {
			return err
		}
	}
	return nil
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}
