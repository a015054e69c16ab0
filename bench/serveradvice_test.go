package main

import (
	"strings"
	"testing"
)

func TestServerCompressAdvice(t *testing.T) {
	row := func(jobs int, comp string, wall float64) summary {
		c := config{tool: toolPgpull, jobs: jobs, rangeSize: "8MB"}
		c.comp, _ = parseCompression(comp)
		return summary{Config: c.name(), Tool: toolPgpull, Jobs: jobs, RangeSize: "8MB", Compress: comp, Runs: 3, WallSec: wall}
	}
	failed := row(4, "server", 1)
	failed.Runs = 0
	peer := summary{Config: "pg_basebackup server-zstd:1", Tool: toolBasebackup, Jobs: 1, Compress: "server-zstd:1", Runs: 3, WallSec: 1}
	for _, tc := range []struct {
		name string
		sums []summary
		want string // a part of the advice; "" for none at all
	}{
		{"no server-compress run", []summary{row(8, "none", 4), peer}, ""},
		{"only a failed server-compress run", []summary{failed, row(8, "none", 4)}, ""},
		{"nothing to compare with", []summary{row(8, "server", 4), peer}, "not judged"},
		{"pays", []summary{row(8, "server", 3), row(4, "server", 3.5), row(8, "none", 6), row(4, "none", 4.5), failed},
			"use it on this link and data: `pgpull -j8 r=8MB server` 3.00 s against `pgpull -j4 r=8MB none` 4.50 s without it, 1.50x"},
		{"costs", []summary{row(8, "server", 7), row(8, "none", 4)},
			"leave it off on this link and data: `pgpull -j8 r=8MB server` 7.00 s against `pgpull -j8 r=8MB none` 4.00 s without it, 0.57x"},
		{"within 5%", []summary{row(8, "server", 4.1), row(8, "none", 4)}, "no faster or slower here (within 5%)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := serverCompressAdvice(tc.sums)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("advice %q; want one containing %q", got, tc.want)
			}
		})
	}
}
