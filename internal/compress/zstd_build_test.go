package compress

import (
	"bytes"
	"testing"
)

// TestZstdEncoderOfTheBuild: the build tags pick the encoder that writes the frames. The two
// are told apart by the frame header's content-checksum flag (bit 2 of the byte after the
// magic), which klauspost's encoder sets and libzstd's one-shot call leaves clear.
func TestZstdEncoderOfTheBuild(t *testing.T) {
	z := compressAll(t, mixedInput(1<<20), specs(t, "zstd:1")[0], 1, 1<<20)
	if !bytes.HasPrefix(z, []byte(zstdMagic)) || len(z) < 5 {
		t.Fatalf("no zstd frame: % x", z[:min(len(z), 8)])
	}
	if got := z[4]&0x04 != 0; got != wantFrameChecksum {
		t.Errorf("%s: frame checksum flag %v, want %v", ZstdEncoder, got, wantFrameChecksum)
	}
}
