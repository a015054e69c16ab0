package main

import (
	"flag"
	"fmt"
	"time"
)

// scenarioFlags are the flags the subcommands share: each registers the ones it takes, so a
// flag means the same, with the same default, wherever it appears.
type scenarioFlags struct {
	scale      int
	jobs       int
	rounds     int
	latency    time.Duration
	bandwidth  string
	results    string
	noisy      bool
	quietCheck bool // --noisy was offered: the scenario refuses a busy machine without it
}

// scenarioFlagSpec says which shared flags a subcommand takes and how its help words them; a
// zero field leaves its flag out.
type scenarioFlagSpec struct {
	section   string // the results file's section --results writes
	scale     int    // --scale's default
	scaleSize string // what that default comes to, for the help
	jobs      string // --jobs' help
	rounds    string // --rounds' help
	link      bool   // --latency and --bandwidth, for a scenario measured through the shaped link too
	noisy     bool   // --noisy, and the quiet check it overrides
}

// register adds the flags spec names to fs.
func (f *scenarioFlags) register(fs *flag.FlagSet, spec scenarioFlagSpec) {
	if spec.scale > 0 {
		fs.IntVar(&f.scale, "scale", spec.scale, fmt.Sprintf("pgbench scale factor of the data set (%d is about %s)", spec.scale, spec.scaleSize))
	}
	if spec.jobs != "" {
		fs.IntVar(&f.jobs, "jobs", 4, spec.jobs)
	}
	if spec.rounds != "" {
		fs.IntVar(&f.rounds, "rounds", 3, spec.rounds)
	}
	if spec.link {
		fs.DurationVar(&f.latency, "latency", 20*time.Millisecond, "delay each way on the shaped link")
		fs.StringVar(&f.bandwidth, "bandwidth", "200Mbit", "cap per connection and direction on the shaped link")
	}
	if spec.section != "" {
		fs.StringVar(&f.results, "results", "", "write the figures as the "+spec.section+" section of this results file, e.g. bench/RESULTS.md")
	}
	if spec.noisy {
		fs.BoolVar(&f.noisy, "noisy", false, noisyHelp)
		f.quietCheck = true
	}
}

// noisyHelp is --noisy's help, the same for bench run's own flag.
const noisyHelp = "measure even when other work keeps the machine busy, and mark the figures so"
