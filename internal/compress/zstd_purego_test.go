//go:build !libzstd

package compress

// klauspost's encoder keeps each frame's xxhash.
const wantFrameChecksum = true
