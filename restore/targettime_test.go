package restore

import (
	"testing"
	"time"
)

func TestParseTargetTime(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*3600)
	tests := []struct {
		in   string
		want string // formatted for the server; "" for an error
	}{
		{"2026-05-01 14:30:00+02", "2026-05-01 14:30:00+02:00"},
		{"2026-05-01T12:30:00Z", "2026-05-01 12:30:00+00:00"},
		{"2026-05-01 12:30:00.123456789+00:00", "2026-05-01 12:30:00.123457+00:00"},
		{"2026-05-01 12:30:00-0330", "2026-05-01 12:30:00-03:30"},
		{"2026-05-01 14:30:00", "2026-05-01 14:30:00+02:00"},
		{"2026-05-01 14:30", "2026-05-01 14:30:00+02:00"},
		{"2026-05-01", "2026-05-01 00:00:00+02:00"},
		{" 2026-05-01T14:30:00.5 ", "2026-05-01 14:30:00.5+02:00"},
		{"yesterday", ""},
		{"2026-13-01 00:00:00", ""},
		{"1714566600", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTargetTime(tt.in, berlin)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("parsed as %v, want an error", got)
				}
				return
			}
			if err != nil || formatTargetTime(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", formatTargetTime(got), err, tt.want)
			}
		})
	}
}

// FuzzParseTargetTime: any input parses or fails without panicking, and what is written for
// the server reads back as the same instant.
func FuzzParseTargetTime(f *testing.F) {
	f.Add("2026-05-01 14:30:00+02")
	f.Add("2026-05-01T12:30:00.123Z")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTargetTime(s, time.UTC)
		if err != nil {
			return
		}
		back, err := ParseTargetTime(formatTargetTime(got), time.UTC)
		if err != nil || !back.Equal(got.Round(time.Microsecond)) {
			t.Fatalf("%q: %v written as %q reads back as %v, %v", s, got, formatTargetTime(got), back, err)
		}
	})
}
