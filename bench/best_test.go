package main

import (
	"strings"
	"testing"
)

func TestBestLines(t *testing.T) {
	row := func(tool string, jobs int, comp string, wall float64) summary {
		c := config{tool: tool, jobs: jobs, rangeSize: "8MB"}
		c.comp, _ = parseCompression(comp)
		if tool != toolPgpull {
			c.rangeSize = ""
		}
		return summary{Config: c.name(), Tool: tool, Jobs: jobs, RangeSize: c.rangeSize, Compress: comp, Runs: 3, WallSec: wall}
	}
	failed := row(toolPgbackrest, 8, "none", 1)
	failed.Runs = 0
	sums := []summary{
		row(toolPgpull, 2, "none", 10), row(toolPgpull, 4, "none", 8), row(toolPgpull, 0, "none", 8.5),
		row(toolPgpull, 8, "server", 12), row(toolPgpull, 0, "server", 10),
		row(toolBasebackup, 1, "none", 12), row(toolBasebackup, 1, "server-lz4:1", 6),
		row(toolPgbackrest, 2, "none", 16), row(toolPgbackrest, 4, "none", 9), failed,
		row(toolPgpull, 4, "zstd:1", 7), row(toolPgpull, 0, "zstd:1", 9),
		row(toolTar, 1, "none", 0.5),
	}
	got := bestLines(sums)
	want := []string{
		"fastest pgpull: `pgpull -j4 r=8MB zstd:1`, 7.00 s",
		"fastest pg_basebackup: `pg_basebackup server-lz4:1`, 6.00 s",
		"fastest pgbackrest: `pgbackrest p=4 none`, 9.00 s",
		"`pgpull -j2 r=8MB none` (10.00 s): 0.60x pg_basebackup's fastest, 0.90x pgbackrest's fastest",
		"`pgpull -j4 r=8MB none` (8.00 s): 0.75x pg_basebackup's fastest, 1.12x pgbackrest's fastest",
		"`pgpull -jauto r=8MB none` (8.50 s): 0.71x pg_basebackup's fastest, 1.06x pgbackrest's fastest",
		"`pgpull -j8 r=8MB server` (12.00 s): 0.50x pg_basebackup's fastest, 0.75x pgbackrest's fastest",
		"`pgpull -jauto r=8MB server` (10.00 s): 0.60x pg_basebackup's fastest, 0.90x pgbackrest's fastest",
		"`pgpull -j4 r=8MB zstd:1` (7.00 s): 0.86x pg_basebackup's fastest, 1.29x pgbackrest's fastest",
		"`pgpull -jauto r=8MB zstd:1` (9.00 s): 0.67x pg_basebackup's fastest, 1.00x pgbackrest's fastest",
		"`pgpull -jauto r=8MB none` 8.50 s against the best fixed -j `pgpull -j4 r=8MB none` 8.00 s: 0.94x (within 10%)",
		"`pgpull -jauto r=8MB server` 10.00 s against the best fixed -j `pgpull -j8 r=8MB server` 12.00 s: 1.20x (faster)",
		"`pgpull -jauto r=8MB zstd:1` 9.00 s against the best fixed -j `pgpull -j4 r=8MB zstd:1` 7.00 s: 0.78x (MISSED, more than 10% slower)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("bestLines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := bestLines(nil); got != nil {
		t.Errorf("bestLines(nil) = %q; want nothing", got)
	}
}
