package main

import (
	"slices"
)

// median returns the middle value (the mean of the two middle ones for an
// even count), or 0 for none. Medians shrug off one run hit by a noisy
// neighbour, which means would not.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// summary is the medians over the successful runs of one config.
type summary struct {
	Config     string  `json:"config"`
	Tool       string  `json:"tool"`
	Jobs       int     `json:"jobs"`
	RangeSize  string  `json:"range_size,omitempty"`
	Compress   string  `json:"compress"`
	Runs       int     `json:"runs"`
	Failures   int     `json:"failures"`
	WallSec    float64 `json:"wall_s"`
	CPUSec     float64 `json:"cpu_s"`
	BytesOut   int64   `json:"bytes_out"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	MBPerSec   float64 `json:"mb_per_s"`
	// FirstByteSec and TailSec are the medians of the samples': the fixed costs before and after
	// the stream, 0 for a tool whose output is not stdout.
	FirstByteSec float64   `json:"first_byte_s,omitempty"`
	TailSec      float64   `json:"tail_s,omitempty"`
	VsBaseline   float64   `json:"speedup_vs_pg_basebackup,omitempty"` // baseline wall / this wall
	FirstError   string    `json:"first_error,omitempty"`
	WallSamples  []float64 `json:"wall_samples_s"`
}

// summarize computes medians for cfg over its samples. dataBytes is the
// database size, the common numerator of every MB/s figure.
func summarize(cfg config, samples []sample, dataBytes int64) summary {
	s := summary{Config: cfg.name(), Tool: cfg.tool, Jobs: cfg.jobs, RangeSize: cfg.rangeSize, Compress: cfg.comp.String()}
	var wall, cpu, out, rss, first, tail []float64
	for _, x := range samples {
		if x.Error != "" {
			s.Failures++
			if s.FirstError == "" {
				s.FirstError = x.Error
			}
			continue
		}
		s.Runs++
		wall = append(wall, x.WallSec)
		cpu = append(cpu, x.CPUSec())
		out = append(out, float64(x.BytesOut))
		rss = append(rss, float64(x.PeakRSSKiB))
		if x.FirstByteSec > 0 {
			first, tail = append(first, x.FirstByteSec), append(tail, x.TailSec)
		}
	}
	s.WallSamples = wall
	s.WallSec = median(wall)
	s.CPUSec = median(cpu)
	s.BytesOut = int64(median(out))
	s.PeakRSSMiB = median(rss) / 1024
	s.FirstByteSec, s.TailSec = median(first), median(tail)
	if s.WallSec > 0 {
		s.MBPerSec = float64(dataBytes) / 1e6 / s.WallSec
	}
	return s
}

// addBaselineRatios sets each summary's speed-up over pg_basebackup with the
// same compression, and the tar ceiling's over uncompressed pg_basebackup.
func addBaselineRatios(sums []summary) {
	base := map[string]float64{}
	for _, s := range sums {
		if s.Tool == toolBasebackup && s.WallSec > 0 {
			base[s.Compress] = s.WallSec
		}
	}
	for i := range sums {
		if b, ok := base[sums[i].Compress]; ok && sums[i].WallSec > 0 && sums[i].Tool != toolBasebackup {
			sums[i].VsBaseline = b / sums[i].WallSec
		}
	}
}
