package fetch

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/pgpull/pgpull/pipeline"
)

// Compressed reads through pgpull's server-compress helper function, which returns each stretch
// of a file compressed, and decompresses it in the worker. It bounds both sides of a row: the
// compressed value may be no larger than the worst case of its codec on the bytes it stands for,
// and it may not decompress to more than those bytes, so a confused helper cannot inflate a worker
// past the memory budget.
type Compressed struct {
	// Codec is what the helper compresses with: "zstd", "lz4" or "zlib" (session.PickCodec).
	Codec string
	src   bytes.Reader
	zlib  io.ReadCloser
	zstd  *zstd.Decoder
}

// CompressedRowSize is how much of a file one helper call reads and compresses: RowSize. On the
// bench machine (PostgreSQL 15, Debian's python3-lz4, CPU time of one backend, three runs each,
// while other work ran), random bytes cost about fifteen times the CPU in 1 MB calls that they
// cost in 256 kB calls, a backend paying for each fresh value of a megabyte; pgbench's pages cost
// the same either way and compressed 1% larger in 256 kB calls (17.3 MB of 268 MB against 17.1).
const CompressedRowSize = RowSize

// RangeQuery takes f's name as text: the worker reads a name that is not valid UTF-8 with
// BinaryFile instead.
func (c *Compressed) RangeQuery(f *pipeline.File, off, end int64) (string, [][]byte) {
	return helperRangeSQL, [][]byte{[]byte(f.Source), itoa(off), itoa(CompressedRowSize), itoa(end), []byte(c.Codec)}
}
func (c *Compressed) BatchQuery(arrays [][]byte) (string, [][]byte) {
	return helperBatchSQL, append(arrays, []byte(c.Codec))
}
func (*Compressed) RowSize() int64 { return CompressedRowSize }

// maxCompressed bounds what n bytes may compress to: incompressible input grows by a few bytes
// per block in zlib and zstd and by n/255 in lz4, less than n/64.
func maxCompressed(n int64) int64 { return n + n/64 + 1024 }

// Append decompresses v, a codec byte ('L' lz4 block, 'Z' zlib, 'S' zstd, 'R' none) and the
// bytes, onto dst. A NULL v (the file is gone) appends nothing.
func (c *Compressed) Append(dst, v []byte, n int64) ([]byte, error) {
	if v == nil {
		return dst, nil
	}
	if int64(len(v)) > maxCompressed(n) {
		return dst, fmt.Errorf("the server-compress helper sent %d bytes for a %d-byte read", len(v), n)
	}
	if len(v) == 0 {
		return dst, errors.New("the server-compress helper sent an empty value")
	}
	if v[0] == 'L' {
		// The lz4 block decoder writes straight into dst and refuses to write past its end: no
		// copy out of a decoder's window, as zstd's streaming one needs.
		start := len(dst)
		dst = grow(dst, n)
		got, err := lz4.UncompressBlock(v[1:], dst[start:])
		if err != nil {
			return dst[:start], fmt.Errorf("server-compressed data (lz4, %d bytes for a %d-byte read): %w", len(v)-1, n, err)
		}
		return dst[:start+got], nil
	}
	c.src.Reset(v[1:])
	var r io.Reader
	switch v[0] {
	case 'R':
		r = &c.src
	case 'Z':
		if c.zlib == nil {
			zr, err := zlib.NewReader(&c.src)
			if err != nil {
				return dst, fmt.Errorf("server-compressed data: %w", err)
			}
			c.zlib = zr
		} else if err := c.zlib.(zlib.Resetter).Reset(&c.src, nil); err != nil {
			return dst, fmt.Errorf("server-compressed data: %w", err)
		}
		r = c.zlib
	case 'S':
		if c.zstd == nil {
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
			if err != nil {
				return dst, err
			}
			c.zstd = d
		}
		if err := c.zstd.Reset(&c.src); err != nil {
			return dst, fmt.Errorf("server-compressed data: %w", err)
		}
		r = c.zstd
	default:
		return dst, fmt.Errorf("the server-compress helper sent codec %q, which this pgpull does not know; upgrade pgpull or the helper", v[0])
	}
	return readAtMost(dst, r, n)
}

// readAtMost appends r's bytes to dst, failing if there are more than n of them.
func readAtMost(dst []byte, r io.Reader, n int64) ([]byte, error) {
	start := len(dst)
	dst = grow(dst, n)
	got, err := io.ReadFull(r, dst[start:start+int(n)])
	dst = dst[:start+got]
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return dst, nil
	case err != nil:
		return dst, fmt.Errorf("server-compressed data: %w", err)
	}
	var one [1]byte
	k, err := r.Read(one[:])
	switch {
	case k > 0:
		return dst, fmt.Errorf("the server-compress helper sent more than the %d bytes asked for", n)
	case err != nil && err != io.EOF:
		return dst, fmt.Errorf("server-compressed data: %w", err)
	}
	return dst, nil
}

// grow makes room for n more bytes in dst, whose capacity is normally the Piece's whole length
// from the budget already.
func grow(dst []byte, n int64) []byte {
	need := len(dst) + int(n)
	if need <= cap(dst) {
		return dst[:need]
	}
	return append(dst, make([]byte, n)...)
}
