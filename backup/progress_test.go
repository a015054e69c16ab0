package backup

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestTallyIdle: the idle count runs from the copy's start, and any byte received from the
// server or written to the destination restarts it at the next report.
func TestTallyIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := newTally(16 << 20)
		if idle := tl.snapshot().Idle; idle != 0 {
			t.Errorf("idle %s before the copy; want 0 (the checkpoint is its own wait)", idle)
		}
		tl.setPhase(PhaseCopy)
		time.Sleep(25 * time.Second)
		tl.noteMoves()
		if idle := tl.snapshot().Idle; idle != 25*time.Second {
			t.Errorf("idle %s after 25 s with nothing moving; want 25 s", idle)
		}
		for _, move := range []func(){func() { tl.received.Add(8192) }, func() { tl.bytes.Add(8192) }, func() { tl.walBytes.Add(8192) }} {
			time.Sleep(5 * time.Second)
			move()
			tl.noteMoves()
			if idle := tl.snapshot().Idle; idle != 0 {
				t.Errorf("idle %s right after bytes moved; want 0", idle)
			}
		}
	})
}
