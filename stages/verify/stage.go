package verify

import (
	"context"
	"fmt"
	"hash"
	"strings"

	"github.com/pgpull/pgpull/pipeline"
)

// Checksummer is the verify stage: it hashes each regular file's bytes as its Pieces pass, lists
// the file in the manifest when its last Piece passes, and optionally checks data-page checksums.
// Run must be called at most once at a time; the work per Piece allocates nothing.
type Checksummer struct {
	alg      Algorithm
	manifest *Manifest
	hash     hash.Hash // nil for NONE
	sum      []byte    // reused for hash.Sum

	// The file whose Pieces are passing, and what has been seen of it.
	file   *pipeline.File
	next   int64 // offset the next Piece must start at
	fed    int64 // bytes of the file hashed so far
	listed bool  // false for files the manifest leaves out

	// Page checking, when enabled by CheckPages.
	checkPages       bool
	startLSN         uint64
	blocksPerSegment uint32
	partial          [BlockSize]byte // a page split across Pieces
	partialLen       int
	failures         []PageFailure

	zeros [BlockSize]byte // stands in for the bytes of a Piece that went missing mid-file
}

// NewChecksummer makes the stage; files are hashed with alg and listed in m (which should have
// been made with the same algorithm).
func NewChecksummer(alg Algorithm, m *Manifest) *Checksummer {
	c := &Checksummer{alg: alg, manifest: m, hash: alg.New()}
	if c.hash != nil {
		c.sum = make([]byte, 0, c.hash.Size())
	}
	return c
}

// CheckPages turns on data-page checksum verification for files whose File.Segment is not -1.
// Pages with pd_lsn at or after startLSN (the backup's start) are not checked. blocksPerSegment
// 0 means DefaultBlocksPerSegment. Call it before Run.
func (c *Checksummer) CheckPages(startLSN uint64, blocksPerSegment uint32) {
	if blocksPerSegment == 0 {
		blocksPerSegment = DefaultBlocksPerSegment
	}
	c.checkPages, c.startLSN, c.blocksPerSegment = true, startLSN, blocksPerSegment
}

// PageFailures returns the pages that failed their checksum so far. Call it after Run returns.
func (c *Checksummer) PageFailures() []PageFailure { return c.failures }

// Run reads Pieces in stream order, checksums them and forwards each one, unchanged, to out. It
// returns when in is closed, on a stream-order violation, or when ctx is done. It does not close
// out.
func (c *Checksummer) Run(ctx context.Context, in <-chan *pipeline.Piece, out chan<- *pipeline.Piece) error {
	for {
		var p *pipeline.Piece
		select {
		case <-ctx.Done():
			return ctx.Err()
		case q, ok := <-in:
			if !ok {
				return nil
			}
			p = q
		}
		if err := c.piece(p); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case out <- p:
		}
	}
}

// piece accounts for one Piece.
func (c *Checksummer) piece(p *pipeline.Piece) error {
	f := p.File
	if f.Dir {
		return nil
	}
	if p.First() {
		c.file, c.next, c.fed, c.partialLen = f, 0, 0, 0
		// A file gone when first read is not in the backup; WAL segments never are in a manifest.
		c.listed = !p.Missing && !isWALSegment(f.Path)
		if c.hash != nil {
			c.hash.Reset()
		}
	}
	if f != c.file || p.Offset != c.next {
		return fmt.Errorf("verify: piece of %q at offset %d out of stream order", f.Path, p.Offset)
	}
	c.next = p.Offset + p.Length
	if !c.listed {
		return nil
	}
	data := p.Data
	if data == nil && f.Content != nil && p.Length > 0 && p.Offset+p.Length <= int64(len(f.Content)) {
		data = f.Content[p.Offset : p.Offset+p.Length]
	}
	switch {
	case int64(len(data)) == p.Length:
		c.write(data)
	case data == nil && p.Missing:
		// The file went away part way through; its tail is written as zeros, as the server pads a
		// truncated file, so the checksum must cover zeros too.
		for n := p.Length; n > 0; {
			k := min(n, int64(len(c.zeros)))
			c.write(c.zeros[:k])
			n -= k
		}
	default:
		return fmt.Errorf("verify: piece of %q at offset %d holds %d bytes, want %d", f.Path, p.Offset, len(data), p.Length)
	}
	if p.Last() {
		if c.hash != nil {
			c.sum = c.hash.Sum(c.sum[:0])
		}
		c.manifest.AddFile(f.Path, f.Size, f.ModTime, c.sum)
	}
	return nil
}

// write feeds bytes to the hash and, for relation files, to the page checker.
func (c *Checksummer) write(b []byte) {
	if c.hash != nil {
		c.hash.Write(b)
	}
	if c.checkPages && c.file.Segment >= 0 {
		c.pages(b)
	}
	c.fed += int64(len(b))
}

// pages checks the whole pages in b, which continues the current file at offset c.fed. A page
// split across Pieces is gathered in c.partial first.
func (c *Checksummer) pages(b []byte) {
	f := c.file
	off := c.fed - int64(c.partialLen) // file offset of c.partial, then of b's next page
	if c.partialLen > 0 {
		n := copy(c.partial[c.partialLen:], b)
		c.partialLen += n
		b = b[n:]
		if c.partialLen < BlockSize {
			return
		}
		c.failures = AppendPageFailures(c.failures, f.Path, c.partial[:], off, f.Segment, c.blocksPerSegment, c.startLSN)
		c.partialLen = 0
		off += BlockSize
	}
	whole := len(b) / BlockSize * BlockSize
	c.failures = AppendPageFailures(c.failures, f.Path, b[:whole], off, f.Segment, c.blocksPerSegment, c.startLSN)
	c.partialLen = copy(c.partial[:], b[whole:])
}

// isWALSegment reports whether path is a WAL segment file directly in pg_wal: 24 upper-case hex
// digits, as IsXLogFileName defines them. History files and archive_status markers are not.
func isWALSegment(path string) bool {
	name, ok := strings.CutPrefix(path, "pg_wal/")
	if !ok || len(name) != 24 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
