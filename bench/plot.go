package main

import (
	"fmt"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plotThroughput draws MB/s against parallelism (pgpull -j, pgBackRest
// process-max), one line per tool and compression; single-stream tools are
// flat lines across the range so the cross-over points are visible.
func plotThroughput(rep benchReport, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("throughput, %s, %s", rep.Dataset, rep.Scenario)
	p.X.Label.Text = "parallel jobs (pgpull -j, pgBackRest process-max)"
	p.Y.Label.Text = "MB/s of database read (median)"
	p.Legend.Top = true
	p.Legend.Left = true

	lo, hi := 1.0, 1.0
	for _, s := range rep.Summaries {
		hi = max(hi, float64(s.Jobs))
	}
	// Series keyed by label, keeping first-seen order for stable colours.
	var labels []string
	series := map[string]plotter.XYs{}
	add := func(label string, x, y float64) {
		if _, ok := series[label]; !ok {
			labels = append(labels, label)
		}
		series[label] = append(series[label], plotter.XY{X: x, Y: y})
	}
	for _, s := range rep.Summaries {
		if s.Runs == 0 {
			continue
		}
		switch s.Tool {
		case toolPgpull, toolPgpullLibzstd:
			if s.RangeSize == rep.Summaries[0].RangeSize || s.RangeSize == defaultRangeSize {
				add(fmt.Sprintf("%s r=%s %s", s.Tool, s.RangeSize, s.Compress), float64(s.Jobs), s.MBPerSec)
			}
		case toolPgbackrest:
			add("pgbackrest "+s.Compress, float64(s.Jobs), s.MBPerSec)
		default:
			label := s.Config
			add(label, lo, s.MBPerSec)
			add(label, hi, s.MBPerSec)
		}
	}
	var args []any
	for _, l := range labels {
		pts := series[l]
		slices.SortFunc(pts, func(a, b plotter.XY) int {
			switch {
			case a.X < b.X:
				return -1
			case a.X > b.X:
				return 1
			}
			return 0
		})
		args = append(args, l, pts)
	}
	if len(args) > 0 {
		if err := plotutil.AddLinePoints(p, args...); err != nil {
			return err
		}
	}
	return p.Save(9*vg.Inch, 6*vg.Inch, path)
}
