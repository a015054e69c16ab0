// Package pipeline holds what flows between pgpull's stages and the byte budget that bounds it.
//
// The stream is: sources (the data directory listing and the WAL scanner) produce Items; the
// splitter turns Files into Requests of Pieces; fetch workers fill the Pieces; the reorder window
// puts Pieces back in stream order; the verifier checksums them; a sink writes them.
package pipeline

import (
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// File is one entry of the backup: a directory, a regular file read from the server, or a file
// pgpull makes itself (backup_label, archive_status markers).
type File struct {
	// Path is the entry's name in the backup, slash-separated and relative to the backup root,
	// as backup_manifest names it: "base/1/1259", "pg_tblspc/16384/PG_15_202209061/5/16390".
	Path string
	// Source is where the server reads the file, relative to its data directory. Empty for
	// directories and for files whose Content pgpull already holds.
	Source string
	// Tablespace is the OID of the tablespace the entry belongs to, "" for the main data directory.
	Tablespace string
	Size       int64
	ModTime    time.Time
	Dir        bool
	// Content is the whole body of a file pgpull makes itself; nil for files read from the server.
	Content []byte
	// Required files fail the backup when they are gone from the server (WAL segments); any
	// other file may vanish during the copy, as relations do when dropped.
	Required bool
	// WAL marks a WAL segment file. It travels as one Piece, so that the WAL check can read it
	// again whole from the server before any of it is written.
	WAL bool
	// ReadTo, when above 0, is where the bytes read from the server end: from there to Size the
	// file is zeros, written without asking the server. The backup's last WAL segment is read
	// only through the page that holds the stop LSN, since recovery, pg_waldump and pgpull's WAL
	// check read no further, and a new segment is zeros beyond what was written.
	ReadTo int64
	// Incremental, when set, makes the File PostgreSQL 17's INCREMENTAL.<name> of the relation
	// file at Source: the header, which pgpull makes, then the pages of the blocks it names, read
	// from Source. Path carries the INCREMENTAL. name and Size the whole file's. See Stretches.
	Incremental *pgformat.IncrementalHeader
	// Changed, in a refresh, lists the blocks of the file (relative to it) that changed on the
	// server since the destination's copy was taken: only those are read, over the copy's bytes.
	// nil when they are not known, and the copy's blocks are compared by hash instead.
	Changed []uint32
	// Patched, in a refresh, marks a file the copy holds at the size its backup_manifest lists,
	// PriorSize, which the server's is not below, and whose new checksum can be had without the
	// blocks that did not change: of its bytes only the changed blocks (Changed, and every block
	// from PriorSize on) are read, on both sides, and none when none changed (Kept). PriorChecksum
	// is the copy's manifest's checksum of it, which the new manifest keeps when no block changed
	// and otherwise patches with the changed ones (a CRC32C only; see Delta.OldCRC); nil when the
	// new manifest has no checksums.
	Patched       bool
	PriorSize     int64
	PriorChecksum []byte
	// Segment is the relation segment number (the ".N" suffix) of a relation data file whose pages
	// carry checksums, or -1 when the file's pages are not checked.
	Segment int
}

// Kept reports whether a refresh leaves the file as the copy has it, unread: Patched, and no
// block of it changed.
func (f *File) Kept() bool { return f.Patched && len(f.Changed) == 0 && f.Size == f.PriorSize }

// Fetched reports whether the file's bytes must be read from the server.
func (f *File) Fetched() bool { return !f.Dir && f.Content == nil && f.Size > 0 }

// ReadEnd is where reading the server for the stretch of the file that ends at end stops.
func (f *File) ReadEnd(end int64) int64 {
	if f.ReadTo > 0 {
		return min(end, f.ReadTo)
	}
	return end
}

// Item is what a source sends to the splitter: a File, or a Barrier.
type Item struct {
	File *File
	// Barrier, when set, asks the splitter to wait until every Piece sent before it has been
	// written, and then to close the channel. The listing uses it to read global/pg_control after
	// every other file, as pg_basebackup does.
	Barrier chan struct{}
}

// Piece is a byte range of one File: the unit that is fetched, reordered, checksummed and written.
// A File that is a directory or has no bytes to fetch travels as one Piece of length zero.
type Piece struct {
	File   *File
	Offset int64
	Length int64
	// Seq is the Piece's place in the stream; the reorder window releases Pieces in Seq order.
	Seq uint64
	// Data holds Length bytes once fetched, except for a File with ReadTo: there it ends where
	// the bytes read end, and the rest of the Piece is zeros, which every stage takes as there
	// (sinks write them). A file that shrank on the server is padded with zeros.
	// In a Piece of a Patched File only the Moved blocks hold bytes, and Data is nil when none did.
	Data []byte
	// Missing is set when the file was gone when this Piece was read.
	Missing bool
	// Delta, in a refresh, compares the Piece with the destination's copy of its range instead of
	// fetching it whole; nil when there is no copy to compare with.
	Delta *Delta

	release func()
	loan    *loan // the range buffer Data lies in, if it is one (Budget.Buffer, Budget.Carve)
}

// First reports whether the Piece opens its File.
func (p *Piece) First() bool { return p.Offset == 0 }

// Last reports whether the Piece closes its File.
func (p *Piece) Last() bool { return p.Offset+p.Length >= p.File.Size }

// Done returns the Piece's bytes to the budget. A sink calls it once the Piece is written.
func (p *Piece) Done() {
	if p.release != nil {
		p.release()
		p.release = nil
	}
	p.Data = nil
}

// DeltaBlock is the unit a refresh compares and moves: PostgreSQL's page size, the unit its
// writes change. Over pgbench load, 8 KiB blocks moved 18% of a cluster where 64 KiB moved 59%.
const DeltaBlock = 8192

// Delta is a Piece compared block by block with the destination's copy of its range: Data holds
// that copy, and fetch asks the server for the blocks whose SHA-256 differs, or, when the changed
// blocks are known (File.Changed), for those.
type Delta struct {
	// Sums holds the SHA-256 of each DeltaBlock of the copy, in order; the last block may be short.
	// nil when Listed.
	Sums []byte
	// Listed says Moved already names the blocks to read: the ones that changed on the server.
	Listed bool
	// Moved marks the blocks fetch replaced with the server's bytes; the other blocks of Data are
	// already in the destination as they are.
	Moved []bool
	// OldCRC, in a Piece of a Patched File with a PriorChecksum, holds for each Moved block the raw
	// CRC-32C (manifest.RawCRC32C) of the copy's bytes, zeros past its end, with which the verify
	// stage patches the file's checksum; 0 for the other blocks.
	OldCRC []uint32
}

// Blocks is how many blocks the Delta covers.
func (d *Delta) Blocks() int { return len(d.Moved) }

// Request is one round trip to the server: a range of one large file, or several small files whole.
type Request struct {
	Pieces []*Piece
}

// Bytes is the number of bytes the Request reads.
func (r *Request) Bytes() int64 {
	var n int64
	for _, p := range r.Pieces {
		n += p.Length
	}
	return n
}
