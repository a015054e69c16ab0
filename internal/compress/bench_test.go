package compress

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// benchWrite compresses the mixed input through w b.N times and reports MB/s (through
// SetBytes), the compression ratio and CPU time over wall time (above 1 means more than one core
// was busy).
func benchWrite(b *testing.B, newW func(io.Writer) (io.WriteCloser, error)) {
	data := mixedInput(64 << 20)
	b.SetBytes(int64(len(data)))
	var out countWriter
	b.ResetTimer()
	cpu0, wall0 := cpuTime(b), time.Now()
	for range b.N {
		w, err := newW(&out)
		if err != nil {
			b.Fatal(err)
		}
		for p := data; len(p) > 0; p = p[min(len(p), 256<<10):] {
			if _, err := w.Write(p[:min(len(p), 256<<10)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	cpu, wall := cpuTime(b)-cpu0, time.Since(wall0)
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu/wall")
	// Throughput per CPU second does not depend on what else runs on the machine, so it
	// compares settings fairly when other processes take a core.
	b.ReportMetric(float64(b.N*len(data))/1e6/cpu.Seconds(), "MB/cpu-s")
	b.ReportMetric(float64(out.n)/float64(b.N*len(data)), "ratio")
}

func benchSpec(b *testing.B, spec string) {
	s := specs(b, spec)[0]
	benchWrite(b, func(w io.Writer) (io.WriteCloser, error) { return NewWriter(w, s, 0) })
}

func BenchmarkGzip1(b *testing.B) { benchSpec(b, "gzip:1") }
func BenchmarkGzip6(b *testing.B) { benchSpec(b, "gzip") }
func BenchmarkZstd1(b *testing.B) { benchSpec(b, "zstd:1") }
func BenchmarkZstd3(b *testing.B) { benchSpec(b, "zstd") }

// BenchmarkZstdModes compares the ways to run zstd on every core; see zstdWriter for the
// outcome.
func BenchmarkZstdModes(b *testing.B) {
	for _, level := range []int{1, 3} {
		lvl := zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level))
		b.Run(fmt.Sprintf("zstd:%d/stream", level), func(b *testing.B) {
			benchWrite(b, func(w io.Writer) (io.WriteCloser, error) {
				return zstd.NewWriter(w, lvl, zstd.WithEncoderConcurrency(0))
			})
		})
		b.Run(fmt.Sprintf("zstd:%d/stream-concurrent-blocks", level), func(b *testing.B) {
			benchWrite(b, func(w io.Writer) (io.WriteCloser, error) {
				return zstd.NewWriter(w, lvl, zstd.WithEncoderConcurrency(0),
					zstd.WithConcurrentBlocks(true), zstd.WithWindowSize(1<<20))
			})
		})
		b.Run(fmt.Sprintf("zstd:%d/frames", level), func(b *testing.B) {
			benchWrite(b, func(w io.Writer) (io.WriteCloser, error) {
				return newZstdWriter(w, level, 2, zstdBlockSize)
			})
		})
	}
}

// BenchmarkBlockSizes measures the block sizes behind gzipBlockSize and zstdBlockSize.
func BenchmarkBlockSizes(b *testing.B) {
	for _, level := range []int{1, 6} {
		for _, size := range []int{128 << 10, 256 << 10, 1 << 20, 4 << 20} {
			b.Run(fmt.Sprintf("gzip:%d/%dK", level, size>>10), func(b *testing.B) {
				benchWrite(b, func(w io.Writer) (io.WriteCloser, error) { return newGzipWriter(w, level, 2, size) })
			})
		}
	}
	for _, level := range []int{1, 3} {
		for _, size := range []int{256 << 10, 1 << 20, 4 << 20} {
			b.Run(fmt.Sprintf("zstd:%d/%dK", level, size>>10), func(b *testing.B) {
				benchWrite(b, func(w io.Writer) (io.WriteCloser, error) { return newZstdWriter(w, level, 2, size) })
			})
		}
	}
}
