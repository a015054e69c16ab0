//go:build libzstd && cgo

package compress

import ddzstd "github.com/DataDog/zstd"

// ZstdEncoder names the zstd implementation this build compresses with: libzstd, the C library
// pg_basebackup uses, built from the copy github.com/DataDog/zstd carries (bench/README.md has
// the CPU per byte against the default build's).
const ZstdEncoder = "libzstd (cgo, github.com/DataDog/zstd)"

// libzstdFrames is -tags libzstd's frameEncoder: one libzstd compression context per worker,
// each reused frame after frame (a context's tables are allocated once, on first use).
//
// Its frames carry the content size but no xxhash of their own: the binding's one-shot call
// gives no way to ask for one. `zstd -d` and pgpull read them the same; what guards a backup's
// bytes is its manifest, whose checksum of every file `pgpull verify` checks.
type libzstdFrames struct {
	level int
	ctxs  chan ddzstd.Ctx // idle contexts; a call holds one while it compresses
}

func newFrameEncoder(level, concurrency, _ int) (frameEncoder, error) {
	f := libzstdFrames{level: level, ctxs: make(chan ddzstd.Ctx, concurrency)}
	for range concurrency {
		f.ctxs <- ddzstd.NewCtx()
	}
	return f, nil
}

func (f libzstdFrames) encode(dst, src []byte) ([]byte, error) {
	ctx := <-f.ctxs
	defer func() { f.ctxs <- ctx }()
	out, err := ctx.CompressLevel(dst[len(dst):cap(dst)], src, f.level)
	if err != nil {
		return dst, err
	}
	if len(dst) == 0 {
		return out, nil
	}
	return append(dst, out...), nil
}
