// Package verify is the in-pipeline check of the backup stream: the Checksummer hashes each file
// as its Pieces pass and lists it in the backup_manifest, and the PageVerifier checks data-page
// checksums in the fetch workers.
package verify

import (
	"context"
	"fmt"
	"hash"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/pipeline"
)

// Checksummer is the verify stage: it hashes each regular file's bytes as its Pieces pass and
// lists the file in the manifest when its last Piece passes; a Patched file's checksum it has
// from the copy's. Run must be called at most once at a time; the work per Piece allocates nothing.
type Checksummer struct {
	alg      manifest.Algorithm
	manifest *manifest.Manifest
	hash     hash.Hash // nil for NONE
	sum      []byte    // reused for hash.Sum

	// The file whose Pieces are passing, and what has been seen of it.
	file   *pipeline.File
	next   int64 // offset the next Piece must start at
	listed bool  // false for files the manifest leaves out

	zeros [pgformat.BlockSize]byte // stands in for the bytes of a Piece that went missing mid-file
	patch manifest.CRCPatch        // a Patched file's changes so far
}

// NewChecksummer makes the stage; files are hashed with alg and listed in m (which should have
// been made with the same algorithm).
func NewChecksummer(alg manifest.Algorithm, m *manifest.Manifest) *Checksummer {
	c := &Checksummer{alg: alg, manifest: m, hash: alg.New()}
	if c.hash != nil {
		c.sum = make([]byte, 0, c.hash.Size())
	}
	return c
}

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
		if err := pipeline.Send(ctx, out, p); err != nil {
			return err
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
		c.file, c.next = f, 0
		// A file gone when first read is not in the backup; WAL segments never are in a manifest.
		c.listed = !p.Missing && !pgformat.IsSegmentPath(f.Path)
		if c.hash != nil {
			c.hash.Reset()
		}
		c.patch.Reset()
	}
	if f != c.file || p.Offset != c.next {
		return fmt.Errorf("verify: piece of %q at offset %d out of stream order", f.Path, p.Offset)
	}
	c.next = p.Offset + p.Length
	if !c.listed {
		return nil
	}
	if f.Patched {
		return c.patched(p)
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

// patched accounts for a Piece of a Patched file, whose bytes were read only where blocks
// changed: those patch the copy's checksum (a CRC-32C), and a file none of whose blocks changed
// keeps it.
func (c *Checksummer) patched(p *pipeline.Piece) error {
	f, d := p.File, p.Delta
	if f.PriorChecksum != nil && !f.Kept() && p.Data != nil {
		if c.alg != manifest.CRC32C || d == nil || len(d.OldCRC) != len(d.Moved) {
			return fmt.Errorf("verify: piece of %q at offset %d: changed blocks without the copy's CRC-32C of them", f.Path, p.Offset)
		}
		for i, moved := range d.Moved {
			if moved {
				off := int64(i) * pipeline.DeltaBlock
				n := min(pipeline.DeltaBlock, p.Length-off)
				c.patch.Change(p.Offset+off, n, d.OldCRC[i], manifest.RawCRC32C(p.Data[off:off+n]))
			}
		}
	}
	if p.Last() {
		sum := f.PriorChecksum
		if sum != nil && !f.Kept() {
			c.sum = c.patch.Sum(c.sum[:0], sum, f.PriorSize, f.Size)
			sum = c.sum
		}
		c.manifest.AddFile(f.Path, f.Size, f.ModTime, sum)
	}
	return nil
}

// write feeds bytes to the hash.
func (c *Checksummer) write(b []byte) {
	if c.hash != nil {
		c.hash.Write(b)
	}
}
