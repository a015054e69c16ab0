package main

import (
	"fmt"
	"strings"
)

// defaultJobs and defaultRangeSize are pgpull's defaults; the goals are
// stated for them.
const (
	defaultJobs      = 4
	defaultRangeSize = "8MB"
)

// goal is one target from the bench issue, checked against a report.
type goal struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Met      bool    `json:"met"`
	Missing  string  `json:"missing,omitempty"` // why it could not be measured
}

// findSummary returns the summary for a tool/jobs/compression, pgpull at
// the default range size (or the only one run).
func findSummary(sums []summary, tool string, jobs int, comp string) (summary, bool) {
	var fallback *summary
	for i, s := range sums {
		pgpull := tool == toolPgpull || tool == toolPgpullLibzstd
		if s.Tool != tool || s.Compress != comp || (pgpull && s.Jobs != jobs) || s.Runs == 0 ||
			strings.HasSuffix(s.Config, " no-walcheck") {
			continue
		}
		if !pgpull || s.RangeSize == defaultRangeSize {
			return s, true
		}
		if fallback == nil {
			fallback = &sums[i]
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return summary{}, false
}

// evaluateGoals checks the targets that this scenario can speak to.
func evaluateGoals(rep benchReport) []goal {
	var goals []goal
	// ratioOf is pg_basebackup's wall with bComp over a pgpull build's at -j jobs with pComp.
	ratioOf := func(tool, name, pComp, bComp string, jobs int, want float64) {
		g := goal{Name: name, Target: fmt.Sprintf(">= %.1fx", want), Unit: "x"}
		p, okP := findSummary(rep.Summaries, tool, jobs, pComp)
		b, okB := findSummary(rep.Summaries, toolBasebackup, 1, bComp)
		if !okP || !okB {
			g.Missing = fmt.Sprintf("needs pgpull -j%d with %s and pg_basebackup with %s", jobs, pComp, bComp)
		} else {
			g.Measured = b.WallSec / p.WallSec
			g.Met = g.Measured >= want
		}
		goals = append(goals, g)
	}
	ratio := func(name, pComp, bComp string, jobs int, want float64) {
		ratioOf(toolPgpull, name, pComp, bComp, jobs, want)
	}
	if rep.Scenario != "local" {
		ratio("pg_basebackup wall / pgpull -j8 wall, none", "none", "none", 8, 3.0)
		ratio("pg_basebackup server-zstd:1 wall / pgpull -j8 --server-compress wall", "server", "server-zstd:1", 8, 1.0)
		return goals
	}
	ratio("pg_basebackup wall / pgpull -j4 wall, none", "none", "none", defaultJobs, 1.5)
	ratio("pg_basebackup client-gzip:1 wall / pgpull -j4 gzip:1 wall", "gzip:1", "gzip:1", defaultJobs, 1.8)
	ratio("pg_basebackup client-zstd:1 wall / pgpull -j4 zstd:1 wall", "zstd:1", "zstd:1", defaultJobs, 1.3)
	if _, ok := findSummary(rep.Summaries, toolPgpullLibzstd, defaultJobs, "zstd:1"); ok {
		// The same goal for the -tags libzstd build, when the run measured it.
		ratioOf(toolPgpullLibzstd, "pg_basebackup client-zstd:1 wall / pgpull-libzstd -j4 zstd:1 wall", "zstd:1", "zstd:1", defaultJobs, 1.3)
	}

	mem := goal{Name: "pgpull -j4 gzip:1 peak RSS", Target: "< 160 MiB", Unit: "MiB"}
	if p, ok := findSummary(rep.Summaries, toolPgpull, defaultJobs, "gzip:1"); ok {
		mem.Measured = p.PeakRSSMiB
		mem.Met = p.PeakRSSMiB < 160
	} else {
		mem.Missing = "needs pgpull -j4 with gzip:1"
	}
	goals = append(goals, mem)

	ceil := goal{Name: "tar -c wall / pgpull -j4 wall, none (share of the ceiling)", Target: ">= 0.6", Unit: "x"}
	p, okP := findSummary(rep.Summaries, toolPgpull, defaultJobs, "none")
	tr, okT := findSummary(rep.Summaries, toolTar, 1, "none")
	if okP && okT {
		ceil.Measured = tr.WallSec / p.WallSec
		ceil.Met = ceil.Measured >= 0.6
	} else {
		ceil.Missing = "needs pgpull -j4 none and tar"
	}
	return append(goals, ceil)
}
