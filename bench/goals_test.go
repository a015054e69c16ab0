package main

import (
	"strings"
	"testing"
)

// TestGoalsLibzstd: a run that times the -tags libzstd build gets the zstd goal for it too, read
// from its own rows; the default build's goal still reads pgpull's rows.
func TestGoalsLibzstd(t *testing.T) {
	rep := benchReport{Scenario: "local", Summaries: []summary{
		{Config: "pgpull -j4 r=8MB zstd:1", Tool: toolPgpull, Jobs: 4, RangeSize: "8MB", Compress: "zstd:1", Runs: 3, WallSec: 2},
		{Config: "pgpull-libzstd -j4 r=8MB zstd:1", Tool: toolPgpullLibzstd, Jobs: 4, RangeSize: "8MB", Compress: "zstd:1", Runs: 3, WallSec: 1},
		{Config: "pg_basebackup zstd:1", Tool: toolBasebackup, Jobs: 1, Compress: "zstd:1", Runs: 3, WallSec: 1.5},
	}}
	got := map[string]goal{}
	for _, g := range evaluateGoals(rep) {
		if strings.HasPrefix(g.Name, "pg_basebackup client-zstd:1") {
			got[g.Name] = g
		}
	}
	for name, want := range map[string]float64{
		"pg_basebackup client-zstd:1 wall / pgpull -j4 zstd:1 wall":         0.75,
		"pg_basebackup client-zstd:1 wall / pgpull-libzstd -j4 zstd:1 wall": 1.5,
	} {
		if g, ok := got[name]; !ok || g.Measured != want || g.Met != (want >= 1.3) {
			t.Errorf("goal %q = %+v (found %v), want %.2fx", name, g, ok, want)
		}
	}
	rep.Summaries = append(rep.Summaries[:1], rep.Summaries[2])
	for _, g := range evaluateGoals(rep) {
		if strings.Contains(g.Name, "libzstd") {
			t.Errorf("a run without pgpull-libzstd has the goal %q", g.Name)
		}
	}
}
