package zstdcgo

// CPU per byte of libzstd (cgo, DataDog/zstd) against klauspost's pure-Go zstd at
// level 1, one core, 1 MiB frames as pgpull's zstdWriter makes them, on the mixed input of
// internal/compress's tests (fixture.Mixed).

import (
	"testing"

	ddzstd "github.com/DataDog/zstd"
	"github.com/klauspost/compress/zstd"

	"github.com/pgpull/pgpull/internal/fixture"
)

var data = fixture.Mixed(64 << 20)

func run(b *testing.B, enc func(dst, src []byte) []byte) {
	b.SetBytes(int64(len(data)))
	dst := make([]byte, 0, 2<<20)
	var out int
	for range b.N {
		out = 0
		for p := data; len(p) > 0; p = p[min(len(p), 1<<20):] {
			dst = enc(dst[:0], p[:min(len(p), 1<<20)])
			out += len(dst)
		}
	}
	b.ReportMetric(float64(out)/float64(len(data)), "ratio")
}

func BenchmarkKlauspost1(b *testing.B) {
	e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(1)), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(1<<20), zstd.WithEncoderCRC(false))
	run(b, func(dst, src []byte) []byte { return e.EncodeAll(src, dst) })
}

func BenchmarkLibzstd1(b *testing.B) {
	ctx := ddzstd.NewCtx()
	run(b, func(dst, src []byte) []byte {
		out, err := ctx.CompressLevel(dst[:cap(dst)], src, 1)
		if err != nil {
			b.Fatal(err)
		}
		return out
	})
}
