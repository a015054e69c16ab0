package pgformat

import (
	"strings"
	"testing"
)

// fullLabel and incrementalLabel are labels as PostgreSQL 17's pg_basebackup wrote them.
const fullLabel = `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
CHECKPOINT LOCATION: 0/2000080
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2026-12-07 12:40:01 UTC
LABEL: pg_basebackup base backup
START TIMELINE: 1
`

const incrementalLabel = `START WAL LOCATION: 1A/4000028 (file 000000020000001A00000004)
CHECKPOINT LOCATION: 1A/4000080
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2026-12-07 12:41:13 UTC
LABEL: pg_basebackup base backup
START TIMELINE: 2
INCREMENTAL FROM LSN: 0/2000028
INCREMENTAL FROM TLI: 1
`

func TestParseBackupLabel(t *testing.T) {
	tests := []struct {
		name  string
		label string
		want  BackupLabel
		err   string
	}{
		{name: "full", label: fullLabel, want: BackupLabel{StartLSN: 0x2000028, StartTimeline: 1}},
		{name: "incremental", label: incrementalLabel, want: BackupLabel{StartLSN: 0x1A_04000028, StartTimeline: 2,
			IncrementalFromLSN: 0x2000028, IncrementalFromTimeline: 1}},
		{name: "no start", label: "START TIMELINE: 1\n", err: `no "START WAL LOCATION: " line`},
		{name: "no timeline", label: "START WAL LOCATION: 0/1 (file x)\n", err: `no "START TIMELINE: " line`},
		{name: "LSN without its file", label: "START WAL LOCATION: 0/1\nSTART TIMELINE: 1\n", err: "no space after the LSN"},
		{name: "bad LSN", label: "START WAL LOCATION: 0-1 (file x)\nSTART TIMELINE: 1\n", err: "invalid LSN"},
		{name: "timeline 0", label: "START WAL LOCATION: 0/1 (file x)\nSTART TIMELINE: 0\n", err: "timeline 0"},
		{name: "timeline with text after", label: "START WAL LOCATION: 0/1 (file x)\nSTART TIMELINE: 1 \n", err: "not a timeline"},
		{name: "no newline at the end", label: "START WAL LOCATION: 0/1 (file x)\nSTART TIMELINE: 1", err: "no newline"},
		{name: "repeated", label: fullLabel + "START TIMELINE: 2\n", err: "appears twice"},
		{name: "LSN without TLI", label: fullLabel + "INCREMENTAL FROM LSN: 0/1\n", err: "must come together"},
		{name: "TLI without LSN", label: fullLabel + "INCREMENTAL FROM TLI: 1\n", err: "must come together"},
		{name: "incremental from timeline 0", label: fullLabel + "INCREMENTAL FROM LSN: 0/1\nINCREMENTAL FROM TLI: 0\n", err: "timeline 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBackupLabel([]byte(tt.label))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %+v, %v; want %+v", got, err, tt.want)
			}
			if got.Incremental() != (tt.want.IncrementalFromTimeline != 0) {
				t.Errorf("Incremental() = %v", got.Incremental())
			}
		})
	}
}

func TestIncrementalFromLines(t *testing.T) {
	base, _, _ := strings.Cut(incrementalLabel, "INCREMENTAL FROM")
	if got := string(WithoutIncrementalFrom([]byte(incrementalLabel))); got != base {
		t.Fatalf("WithoutIncrementalFrom =\n%s\nwant\n%s", got, base)
	}
	if got := string(WithoutIncrementalFrom([]byte(fullLabel))); got != fullLabel {
		t.Fatalf("WithoutIncrementalFrom changed a full backup's label:\n%s", got)
	}
	// Adding them back gives the server's own label; replacing them replaces, never repeats.
	for _, from := range []string{base, incrementalLabel} {
		got, err := WithIncrementalFrom([]byte(from), 0x2000028, 1)
		if err != nil || string(got) != incrementalLabel {
			t.Fatalf("WithIncrementalFrom =\n%s (%v)\nwant\n%s", got, err, incrementalLabel)
		}
	}
	// START TIMELINE as the first line, and lines after it, keep their places.
	got, err := WithIncrementalFrom([]byte("START TIMELINE: 3\nSTART WAL LOCATION: 0/5 (file x)\n"), 0x100000000, 2)
	want := "START TIMELINE: 3\nINCREMENTAL FROM LSN: 1/0\nINCREMENTAL FROM TLI: 2\nSTART WAL LOCATION: 0/5 (file x)\n"
	if err != nil || string(got) != want {
		t.Fatalf("WithIncrementalFrom =\n%s (%v)\nwant\n%s", got, err, want)
	}
	if _, err := WithIncrementalFrom([]byte("LABEL: x\n"), 1, 1); err == nil {
		t.Error("WithIncrementalFrom accepted a label without START lines")
	}
	if _, err := WithIncrementalFrom([]byte(fullLabel), 1, 0); err == nil {
		t.Error("WithIncrementalFrom accepted timeline 0")
	}
}
