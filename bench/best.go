package main

import (
	"fmt"
	"strings"
)

// Each peer at its best: the fastest configuration of every tool in a run, and every pgpull row's
// wall against each of those, so the comparison is with the peer as its user would tune it, not
// with whichever of its settings matched pgpull's.

// fastestPerTool is the successful summary with the lowest median wall of each tool, in the order
// the tools first appear.
func fastestPerTool(sums []summary) []summary {
	var out []summary
	at := map[string]int{}
	for _, s := range sums {
		if s.Runs == 0 || s.Tool == toolTar {
			continue
		}
		i, ok := at[s.Tool]
		if !ok {
			at[s.Tool] = len(out)
			out = append(out, s)
		} else if s.WallSec < out[i].WallSec {
			out[i] = s
		}
	}
	return out
}

// autoAgainstFixed pairs every pgpull -j auto row with the fastest fixed -j of the same compression,
// range size and WAL check; ratio is that one's wall over auto's (at least 0.9 is within 10%).
type autoPair struct {
	auto, fixed summary
	ratio       float64
}

func autoAgainstFixed(sums []summary) []autoPair {
	var out []autoPair
	for _, a := range sums {
		if a.Tool != toolPgpull || a.Jobs != 0 || a.Runs == 0 {
			continue
		}
		var best *summary
		for i, f := range sums {
			same := f.Tool == toolPgpull && f.Jobs != 0 && f.Runs > 0 && f.Compress == a.Compress &&
				f.RangeSize == a.RangeSize && sameWALCheck(f.Config, a.Config)
			if same && (best == nil || f.WallSec < best.WallSec) {
				best = &sums[i]
			}
		}
		if best != nil {
			out = append(out, autoPair{a, *best, best.WallSec / a.WallSec})
		}
	}
	return out
}

func sameWALCheck(a, b string) bool {
	return strings.HasSuffix(a, " no-walcheck") == strings.HasSuffix(b, " no-walcheck")
}

// bestLines says, in markdown list items, which configuration of each tool was fastest, how every
// pgpull row compares with each of those, and how -j auto did against the best fixed -j.
func bestLines(sums []summary) []string {
	best := fastestPerTool(sums)
	if len(best) == 0 {
		return nil
	}
	var out []string
	for _, b := range best {
		out = append(out, fmt.Sprintf("fastest %s: `%s`, %.2f s", b.Tool, b.Config, b.WallSec))
	}
	for _, s := range sums {
		if s.Tool != toolPgpull || s.Runs == 0 {
			continue
		}
		var vs []string
		for _, b := range best {
			if b.Tool != toolPgpull {
				vs = append(vs, fmt.Sprintf("%.2fx %s's fastest", b.WallSec/s.WallSec, b.Tool))
			}
		}
		if len(vs) > 0 {
			out = append(out, fmt.Sprintf("`%s` (%.2f s): %s", s.Config, s.WallSec, strings.Join(vs, ", ")))
		}
	}
	for _, p := range autoAgainstFixed(sums) {
		verdict := "within 10%"
		switch {
		case p.ratio < 0.9:
			verdict = "MISSED, more than 10% slower"
		case p.ratio > 1:
			verdict = "faster"
		}
		out = append(out, fmt.Sprintf("`%s` %.2f s against the best fixed -j `%s` %.2f s: %.2fx (%s)",
			p.auto.Config, p.auto.WallSec, p.fixed.Config, p.fixed.WallSec, p.ratio, verdict))
	}
	return out
}
