package changes

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat"
)

func lsn(s string) pgformat.LSN {
	l, err := pgformat.ParseLSN(s)
	if err != nil {
		panic(err)
	}
	return l
}

// checkResult holds a result to want, or its error to one containing wantErr when that is set.
func checkResult[T any](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v; want %q", err, wantErr)
		}
		return
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
}

func TestParseHistory(t *testing.T) {
	tests := []struct {
		name, text string
		want       []switchPoint
		err        string
	}{
		{name: "two switches", text: "1\t0/3000000\tno recovery target specified\n\n2\t0/5000A28\tbefore 2026-11-30\n",
			want: []switchPoint{{1, lsn("0/3000000")}, {2, lsn("0/5000A28")}}},
		{name: "comments", text: "# a comment\n1\t0/3000000\treason\n", want: []switchPoint{{1, lsn("0/3000000")}}},
		{name: "empty", text: ""},
		{name: "no switch point", text: "1\n", err: "no switch point"},
		{name: "bad LSN", text: "1\tzz\tx\n", err: "invalid LSN"},
		{name: "out of order", text: "2\t0/5000000\tx\n1\t0/6000000\tx\n", err: "does not follow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHistory([]byte(tt.text))
			checkResult(t, got, err, tt.want, tt.err)
		})
	}
}

func TestNeededRanges(t *testing.T) {
	history := []switchPoint{{1, lsn("0/3000000")}, {2, lsn("0/5000000")}}
	tests := []struct {
		name              string
		priorTLI, tli     uint32
		priorStart, start string
		want              []walRange
		err               string
	}{
		{name: "same timeline", priorTLI: 3, tli: 3, priorStart: "0/6000000", start: "0/7000000",
			want: []walRange{{3, lsn("0/6000000"), lsn("0/7000000")}}},
		{name: "prior after this start", priorTLI: 3, tli: 3, priorStart: "0/8000000", start: "0/7000000", err: "after this backup's start"},
		{name: "one switch between", priorTLI: 2, tli: 3, priorStart: "0/4000000", start: "0/7000000",
			want: []walRange{{2, lsn("0/4000000"), lsn("0/5000000")}, {3, lsn("0/5000000"), lsn("0/7000000")}}},
		{name: "two switches between", priorTLI: 1, tli: 3, priorStart: "0/2000000", start: "0/7000000",
			want: []walRange{{1, lsn("0/2000000"), lsn("0/3000000")}, {2, lsn("0/3000000"), lsn("0/5000000")}, {3, lsn("0/5000000"), lsn("0/7000000")}}},
		{name: "prior past its timeline's end", priorTLI: 1, tli: 3, priorStart: "0/3000000", start: "0/7000000", err: "left at 0/3000000"},
		{name: "prior timeline not in the history", priorTLI: 4, tli: 3, priorStart: "0/4000000", start: "0/7000000", err: "not in the history"},
		{name: "start before the timeline began", priorTLI: 2, tli: 3, priorStart: "0/4000000", start: "0/4800000", err: "before the timeline began"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := neededRanges(history, tt.priorTLI, lsn(tt.priorStart), tt.tli, lsn(tt.start))
			checkResult(t, got, err, tt.want, tt.err)
		})
	}
}

func TestCoveringSummaries(t *testing.T) {
	s := func(tli uint32, start, end string) walRange { return walRange{tli, lsn(start), lsn(end)} }
	available := []walRange{
		s(1, "0/1000000", "0/2000000"), s(1, "0/2000000", "0/3000000"),
		s(2, "0/3000000", "0/4000000"), s(2, "0/3800000", "0/5000000"), s(2, "0/6000000", "0/7000000"),
		s(3, "0/9000000", "0/A000000"),
	}
	tests := []struct {
		name   string
		needed []walRange
		want   []walRange
		err    string // in an UnusableError
	}{
		{name: "inside one summary", needed: []walRange{s(1, "0/1100000", "0/1200000")}, want: []walRange{s(1, "0/1000000", "0/2000000")}},
		{name: "across two", needed: []walRange{s(1, "0/1800000", "0/2800000")},
			want: []walRange{s(1, "0/1000000", "0/2000000"), s(1, "0/2000000", "0/3000000")}},
		{name: "overlapping summaries", needed: []walRange{s(2, "0/3000000", "0/5000000")},
			want: []walRange{s(2, "0/3000000", "0/4000000"), s(2, "0/3800000", "0/5000000")}},
		{name: "across a timeline switch", needed: []walRange{s(1, "0/2800000", "0/3000000"), s(2, "0/3000000", "0/3100000")},
			want: []walRange{s(1, "0/2000000", "0/3000000"), s(2, "0/3000000", "0/4000000")}},
		{name: "empty range", needed: []walRange{s(1, "0/2000000", "0/2000000")}},
		{name: "a gap", needed: []walRange{s(2, "0/4000000", "0/6800000")}, err: "covers 0/5000000"},
		{name: "summaries begin after the prior start", needed: []walRange{s(3, "0/8000000", "0/9800000")}, err: "begin at 0/9000000"},
		{name: "none on the timeline", needed: []walRange{s(4, "0/8000000", "0/9800000")}, err: "no WAL summaries on timeline 4"},
		{name: "past the last summary", needed: []walRange{s(1, "0/2800000", "0/3800000")}, err: "covers 0/3000000"},
		{name: "on the wrong timeline", needed: []walRange{s(1, "0/3000000", "0/3800000")}, err: "covers 0/3000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := coveringSummaries(available, tt.needed)
			if tt.err != "" {
				var u *UnusableError
				if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), EnableSummaries) {
					t.Fatalf("err = %v; want an UnusableError with %q and how to enable summaries", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
