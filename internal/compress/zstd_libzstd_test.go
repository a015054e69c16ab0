//go:build libzstd

package compress

// libzstd's one-shot compression writes no per-frame xxhash.
const wantFrameChecksum = false
