package verify

import (
	"sync"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/pipeline"
)

// PageVerifier checks page checksums in the fetch workers, where the work spreads over every
// job and a failing block can be read again on the worker's own connection. It is safe for
// concurrent use.
type PageVerifier struct {
	startLSN         uint64
	blocksPerSegment uint32

	mu       sync.Mutex
	failures []pgformat.PageFailure
}

// NewPageVerifier checks pages written before startLSN; later ones may be torn, and the
// backup's WAL replay rewrites them.
func NewPageVerifier(startLSN uint64, blocksPerSegment uint32) *PageVerifier {
	return &PageVerifier{startLSN: startLSN, blocksPerSegment: blocksPerSegment}
}

// Verify checks p's pages. A failing page is read once more through reread and checked again,
// since a page being written while it was read fails too; only a second failure counts.
func (v *PageVerifier) Verify(p *pipeline.Piece, reread func(offset, length int64) ([]byte, error)) error {
	first := pgformat.AppendPageFailures(nil, p.File.Path, p.Data, p.Offset, p.File.Segment, v.blocksPerSegment, v.startLSN)
	if len(first) == 0 {
		return nil
	}
	perSegment := int64(v.blocksPerSegment)
	if perSegment == 0 {
		perSegment = pgformat.DefaultBlocksPerSegment
	}
	var confirmed []pgformat.PageFailure
	for _, f := range first {
		off := (int64(f.Block) - int64(p.File.Segment)*perSegment) * pgformat.BlockSize
		page, err := reread(off, pgformat.BlockSize)
		if err != nil {
			return err
		}
		if len(page) < pgformat.BlockSize {
			continue // the file shrank: the page is gone, and WAL replay accounts for it
		}
		confirmed = pgformat.AppendPageFailures(confirmed, p.File.Path, page, off, p.File.Segment, v.blocksPerSegment, v.startLSN)
	}
	if len(confirmed) > 0 {
		v.mu.Lock()
		v.failures = append(v.failures, confirmed...)
		v.mu.Unlock()
	}
	return nil
}

// Failures lists the pages that failed twice.
func (v *PageVerifier) Failures() []pgformat.PageFailure {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]pgformat.PageFailure(nil), v.failures...)
}
