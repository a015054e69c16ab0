package pgformat

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestMixRowsAVX2MatchesGeneric holds the vector lanes to the plain Go ones on random pages,
// which the real-page tests alone would not show for every lane and bit.
func TestMixRowsAVX2MatchesGeneric(t *testing.T) {
	if !cpu.X86.HasAVX2 {
		t.Log("this CPU has no AVX2: page checksums use the generic code, which the other tests cover")
		return
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		rows := make([]byte, rowBytes*(1+rng.IntN(64)))
		for j := range rows {
			rows[j] = byte(rng.Uint32())
		}
		vector, plain := checksumBaseOffsets, checksumBaseOffsets
		vector[i%checksumLanes] ^= rng.Uint32()
		plain[i%checksumLanes] = vector[i%checksumLanes]
		mixRowsAVX2(&vector, &rows[0], len(rows)/rowBytes)
		mixRowsGeneric(&plain, rows)
		if vector != plain {
			t.Fatalf("case %d (%d rows): AVX2 lanes %x, generic %x", i, len(rows)/rowBytes, vector, plain)
		}
	}
}
