// Package compress is the compress stage for tar output: it wraps the tar stream in gzip or zstd
// using every core, and opens a stream again by its content for `pgpull verify`.
//
// pg_basebackup compresses on one core, so a fast network and disk wait on that core. Here the
// stream is cut into independent blocks that a bounded set of goroutines compress at
// once and that are written back in order, so the stage scales with the cores while holding at
// most a fixed number of blocks in memory, however long the stream is.
package compress

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/pierrec/lz4/v4"
)

// Algorithm is a compression algorithm for the tar stream.
type Algorithm int

const (
	None Algorithm = iota
	Gzip
	Zstd
	// Lz4 is read only (NewReader), for pg_basebackup's --compress=lz4 output; pgpull does not
	// write it.
	Lz4
)

func (a Algorithm) String() string {
	switch a {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	case Lz4:
		return "lz4"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// Level ranges and defaults. The defaults are pg_basebackup's: it asks zlib for
// Z_DEFAULT_COMPRESSION, which zlib defines as 6 (klauspost's own default is 5, so it is not
// used), and libzstd for ZSTD_CLEVEL_DEFAULT, which is 3.
const (
	gzipMinLevel, gzipMaxLevel, gzipDefaultLevel = 1, 9, 6
	zstdMinLevel, zstdMaxLevel, zstdDefaultLevel = 1, 22, 3
)

// Spec is a parsed -z/--compress value. Level 0 means the algorithm's default level.
type Spec struct {
	Algorithm Algorithm
	Level     int
}

const acceptedForms = "none, gzip, gzip:1..9, zstd or zstd:1..22"

// ParseSpec parses a -z/--compress value: "none", "gzip", "gzip:N" (1-9, default 6), "zstd" or
// "zstd:N" (1-22, default 3). pg_basebackup's longer spelling of the level, "gzip:level=N", is
// accepted too. Algorithm names are case-insensitive. klauspost's zstd has four encoders; zstd
// levels map onto them by ratio, as zstd.EncoderLevelFromZstd does: 1-2 fastest, 3-5 default,
// 6-9 better, 10-22 best.
func ParseSpec(s string) (Spec, error) {
	bad := func() (Spec, error) {
		return Spec{}, fmt.Errorf("invalid compression %q: want %s", s, acceptedForms)
	}
	name, detail, hasDetail := strings.Cut(strings.TrimSpace(s), ":")
	var spec Spec
	var lo, hi int
	switch strings.ToLower(name) {
	case "none":
		if hasDetail {
			return bad()
		}
		return Spec{Algorithm: None}, nil
	case "gzip":
		spec = Spec{Algorithm: Gzip, Level: gzipDefaultLevel}
		lo, hi = gzipMinLevel, gzipMaxLevel
	case "zstd":
		spec = Spec{Algorithm: Zstd, Level: zstdDefaultLevel}
		lo, hi = zstdMinLevel, zstdMaxLevel
	default:
		return bad()
	}
	if !hasDetail {
		return spec, nil
	}
	if v, ok := strings.CutPrefix(detail, "level="); ok {
		detail = v
	}
	n, err := strconv.Atoi(detail)
	if err != nil || n < lo || n > hi {
		return bad()
	}
	spec.Level = n
	return spec, nil
}

// level returns the Spec's level with 0 resolved to the algorithm's default.
func (s Spec) level() int {
	if s.Level != 0 {
		return s.Level
	}
	switch s.Algorithm {
	case Gzip:
		return gzipDefaultLevel
	case Zstd:
		return zstdDefaultLevel
	}
	return 0
}

// String gives the Spec in the form ParseSpec reads: "none", "gzip:6", "zstd:3".
func (s Spec) String() string {
	if s.Algorithm == None {
		return "none"
	}
	return s.Algorithm.String() + ":" + strconv.Itoa(s.level())
}

// Ext is the file name suffix for -F tar output: "", ".gz" or ".zst" (base.tar.gz).
func (s Spec) Ext() string {
	switch s.Algorithm {
	case Gzip:
		return ".gz"
	case Zstd:
		return ".zst"
	}
	return ""
}

// Block sizes, chosen with BenchmarkBlockSizes (2 cores, AMD EPYC, the tests' mixed input of
// half random bytes and half repetitive text in 64 KiB runs). The machine was shared, so
// settings were compared by MB per CPU second, which other load does not skew; output/input
// ratio in brackets:
//
//	gzip:1  128K 620  256K 625  1M 520  4M 340   (ratio 0.591 at every size)
//	gzip:6  128K 335  256K 360  1M 260  4M 225   (ratio 0.584 at every size)
//	zstd:1  256K 680  1M 630 (0.579)  4M 510 (0.580)
//	zstd:3  256K 350 (0.628)  1M 300 (0.609)  4M 245 (0.601)
//
// pgzip primes each block with the previous block's last 16 KiB, so gzip loses no ratio to small
// blocks and runs fastest at 256 KiB, where a block and its output stay in the core's cache.
// zstd frames are independent, so small blocks cost ratio: 1 MiB is the compromise.
const (
	gzipBlockSize = 256 << 10
	zstdBlockSize = 1 << 20
	// blocksPerWorker blocks are in flight per worker: one being compressed while the next is
	// filled or its output written, so no core waits on the writer.
	blocksPerWorker = 2
)

// NewWriter returns a writer that compresses what is written to it into w with concurrency
// goroutines (GOMAXPROCS when concurrency < 1). Memory stays within about
// (2 × concurrency + 1) × (block size + its compressed size) plus the encoders' own tables
// (concurrency of them), whatever the length of the stream: about 20 MiB for gzip:1 or zstd:3 at
// concurrency 2, up to about 100 MiB for zstd:19. Close flushes and finishes the stream but does
// not close w. Write and Close must not be called concurrently.
func NewWriter(w io.Writer, s Spec, concurrency int) (io.WriteCloser, error) {
	if concurrency < 1 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	switch s.Algorithm {
	case None:
		return &plainWriter{w: w}, nil
	case Gzip:
		return newGzipWriter(w, s.level(), concurrency, gzipBlockSize)
	case Zstd:
		return newZstdWriter(w, s.level(), concurrency, zstdBlockSize)
	}
	return nil, fmt.Errorf("compress: unknown algorithm %d", int(s.Algorithm))
}

func newGzipWriter(w io.Writer, level, concurrency, blockSize int) (io.WriteCloser, error) {
	if level < gzipMinLevel || level > gzipMaxLevel {
		return nil, fmt.Errorf("compress: gzip level %d out of range %d..%d", level, gzipMinLevel, gzipMaxLevel)
	}
	sink := &latchWriter{w: w}
	zw, err := pgzip.NewWriterLevel(sink, level)
	if err != nil {
		return nil, err
	}
	// pgzip starts one goroutine per full block and holds at most blocks of them, so blocks
	// bounds the memory. It also bounds the parallelism, loosely: up to blocksPerWorker ×
	// concurrency blocks may compress at once (GOMAXPROCS still caps the cores used).
	if err := zw.SetConcurrency(blockSize, blocksPerWorker*concurrency); err != nil {
		return nil, err
	}
	return &gzipWriter{zw: zw, sink: sink}, nil
}

// gzipWriter wraps pgzip.Writer for two things it does not do: it refuses writes after Close
// (pgzip accepts and drops them), and it keeps pgzip's goroutines from outliving a failed
// sink. pgzip's Close returns at once on a write error without stopping its output goroutine,
// so pgzip is never shown the error: latchWriter keeps it, and pgzip winds down normally.
type gzipWriter struct {
	zw     *pgzip.Writer
	sink   *latchWriter
	closed bool
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if g.closed {
		return 0, errClosed
	}
	if err := g.sink.failed(); err != nil {
		return 0, err
	}
	n, err := g.zw.Write(p)
	if err == nil {
		err = g.sink.failed()
	}
	return n, err
}

func (g *gzipWriter) Close() error {
	if g.closed {
		return g.sink.failed()
	}
	g.closed = true
	err := g.zw.Close()
	if ferr := g.sink.failed(); ferr != nil {
		return ferr
	}
	return err
}

// latchWriter passes writes to w until one fails, then keeps that error and discards the rest.
// pgzip writes to it one write at a time, from its own goroutine: the mutex guards err only, so
// that a slow w does not hold up the caller's checks of it (pgzip's own limit on blocks in
// flight is what holds the caller back).
type latchWriter struct {
	w   io.Writer
	mu  sync.Mutex
	err error
}

func (l *latchWriter) Write(p []byte) (int, error) {
	if l.failed() == nil {
		n, err := l.w.Write(p)
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
	}
	return len(p), nil
}

func (l *latchWriter) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// plainWriter passes writes through; Close only stops further writes, as the compressing
// writers do: w is the caller's to close.
type plainWriter struct {
	w      io.Writer
	closed bool
}

func (p *plainWriter) Write(b []byte) (int, error) {
	if p.closed {
		return 0, errClosed
	}
	return p.w.Write(b)
}

func (p *plainWriter) Close() error {
	p.closed = true
	return nil
}

// Magic bytes that open a stream of each algorithm.
const (
	gzipMagic = "\x1f\x8b"
	zstdMagic = "\x28\xb5\x2f\xfd"
	lz4Magic  = "\x04\x22\x4d\x18"
)

// Reader read-ahead, for NewReader. pgzip decompresses in a goroutine of its own ahead of the
// reader; these bound how far ahead.
const (
	readBlockSize = 1 << 20
	readBlocks    = 4
)

// NewReader opens r by its content: gzip (1f 8b), zstd (28 b5 2f fd), lz4 frames (04 22 4d 18),
// else plain bytes, and
// reports which it found. Concatenated gzip members and zstd frames read as one stream. Close
// releases the decoder but does not close r.
func NewReader(r io.Reader) (io.ReadCloser, Algorithm, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(len(zstdMagic))
	if err != nil && err != io.EOF {
		return nil, None, err
	}
	switch {
	case bytes.HasPrefix(head, []byte(gzipMagic)):
		zr, err := pgzip.NewReaderN(br, readBlockSize, readBlocks)
		if err != nil {
			return nil, Gzip, fmt.Errorf("compress: gzip header: %w", err)
		}
		return zr, Gzip, nil
	case bytes.HasPrefix(head, []byte(zstdMagic)):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, Zstd, fmt.Errorf("compress: zstd: %w", err)
		}
		return zstdReader{zr}, Zstd, nil
	case bytes.HasPrefix(head, []byte(lz4Magic)):
		return io.NopCloser(lz4.NewReader(br)), Lz4, nil
	}
	return io.NopCloser(br), None, nil
}

// zstdReader adapts *zstd.Decoder, whose Close returns nothing.
type zstdReader struct{ d *zstd.Decoder }

func (z zstdReader) Read(p []byte) (int, error) { return z.d.Read(p) }

func (z zstdReader) Close() error {
	z.d.Close()
	return nil
}

// errClosed is returned by Write after Close.
var errClosed = errors.New("compress: write after close")
