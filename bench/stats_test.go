package main

import "testing"

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 1, 1}, 1}, // one slow outlier does not move it
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 || in[1] != 1 {
		t.Errorf("median sorted its input in place: %v", in)
	}
}

func TestSummarizeSkipsFailuresAndRatios(t *testing.T) {
	pg := config{tool: toolPgpull, jobs: 4, rangeSize: "8MB", comp: compression{algo: "none"}}
	bb := config{tool: toolBasebackup, jobs: 1, comp: compression{algo: "none"}}
	sums := []summary{
		summarize(pg, []sample{{WallSec: 2, UserSec: 1, PeakRSSKiB: 1024}, {WallSec: 9, Error: "boom"}, {WallSec: 4, UserSec: 1, SysSec: 1, PeakRSSKiB: 3072}}, 600e6),
		summarize(bb, []sample{{WallSec: 6}}, 600e6),
	}
	addBaselineRatios(sums)
	p := sums[0]
	if p.Runs != 2 || p.Failures != 1 || p.FirstError != "boom" {
		t.Errorf("runs %d failures %d error %q", p.Runs, p.Failures, p.FirstError)
	}
	if p.WallSec != 3 || p.CPUSec != 1.5 || p.PeakRSSMiB != 2 || p.MBPerSec != 200 {
		t.Errorf("medians: wall %v cpu %v rss %v MB/s %v", p.WallSec, p.CPUSec, p.PeakRSSMiB, p.MBPerSec)
	}
	if p.VsBaseline != 2 || sums[1].VsBaseline != 0 {
		t.Errorf("ratios %v %v, want 2 and none for the baseline itself", p.VsBaseline, sums[1].VsBaseline)
	}
}
