package pgformat

import (
	"bytes"
	"testing"
)

// FuzzParseBackupLabel: any label either fails to parse or parses into one whose INCREMENTAL
// FROM lines can be taken off and put back, giving the same fields: what combine and an
// incremental backup rely on.
func FuzzParseBackupLabel(f *testing.F) {
	f.Add([]byte("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nSTART TIMELINE: 1\n"))
	f.Add([]byte("START WAL LOCATION: 0/4000028 (file 000000010000000000000004)\nSTART TIMELINE: 1\nINCREMENTAL FROM LSN: 0/2000028\nINCREMENTAL FROM TLI: 1\n"))
	f.Add([]byte("START WAL LOCATION: 0/4000028\nSTART TIMELINE: 0\n"))
	f.Fuzz(func(t *testing.T, label []byte) {
		l, err := ParseBackupLabel(label)
		if err != nil {
			return
		}
		bare := WithoutIncrementalFrom(label)
		b, err := ParseBackupLabel(bare)
		if err != nil {
			t.Fatalf("a label that parsed fails without its INCREMENTAL FROM lines: %v\n%q", err, bare)
		}
		if b.Incremental() || b.StartLSN != l.StartLSN || b.StartTimeline != l.StartTimeline {
			t.Fatalf("without INCREMENTAL FROM: %+v, from %+v", b, l)
		}
		if !l.Incremental() {
			return
		}
		again, err := WithIncrementalFrom(bare, l.IncrementalFromLSN, l.IncrementalFromTimeline)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseBackupLabel(again)
		if err != nil || back != l {
			t.Fatalf("INCREMENTAL FROM put back: %+v (%v), want %+v\n%q", back, err, l, again)
		}
		if !bytes.Contains(again, []byte("INCREMENTAL FROM LSN: ")) {
			t.Fatalf("no INCREMENTAL FROM LSN line in %q", again)
		}
	})
}
