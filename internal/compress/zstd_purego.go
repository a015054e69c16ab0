//go:build !libzstd

package compress

import "github.com/klauspost/compress/zstd"

// ZstdEncoder names the zstd implementation this build compresses with: the default build's
// is pure Go, so pgpull stays a static binary with no C toolchain in its build.
const ZstdEncoder = "klauspost/compress (pure Go)"

// pureGoFrames is the default build's frameEncoder: klauspost's EncodeAll, which borrows one of
// its concurrency encoders per call.
type pureGoFrames struct{ enc *zstd.Encoder }

func newFrameEncoder(level, concurrency, blockSize int) (frameEncoder, error) {
	window := zstd.MinWindowSize
	for window < blockSize && window < zstd.MaxWindowSize {
		window *= 2
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		// At most concurrency frames are compressed at once, and only that many encoders'
		// tables exist.
		zstd.WithEncoderConcurrency(concurrency),
		// A frame never refers further back than its own block.
		zstd.WithWindowSize(window),
		// An empty stream still gets a valid (empty) frame, which `zstd -d` accepts where it
		// rejects zero bytes.
		zstd.WithZeroFrames(true),
		// Each frame keeps its xxhash (the library's default), which `zstd -d` checks: leaving
		// it out saved no CPU that benchstat could tell apart (bench/README.md).
	)
	if err != nil {
		return nil, err
	}
	return pureGoFrames{enc}, nil
}

func (f pureGoFrames) encode(dst, src []byte) ([]byte, error) { return f.enc.EncodeAll(src, dst), nil }
