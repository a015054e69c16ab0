package pgformat

import "golang.org/x/sys/cpu"

// mixRowsAVX2 is mixRow over n consecutive rows, eight lanes to an instruction. PostgreSQL's C
// build gets the same from the compiler's vectorizer, which is why the algorithm has 32 lanes;
// in Go it made page checks the largest single cost of a backup (22% of the client's CPU).
//
//go:noescape
func mixRowsAVX2(sums *[checksumLanes]uint32, rows *byte, n int)

// mixRows folds n rows starting at rows into the lanes.
func mixRows(sums *[checksumLanes]uint32, rows []byte) {
	if cpu.X86.HasAVX2 && len(rows) >= rowBytes {
		mixRowsAVX2(sums, &rows[0], len(rows)/rowBytes)
		return
	}
	mixRowsGeneric(sums, rows)
}
