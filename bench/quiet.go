package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// quietLimit is the share of the CPUs other work may use while a scenario starts before the run
// is refused (or, with --noisy, marked): a figure measured beside a build or a test suite says
// more about them than about pgpull.
const quietLimit = 0.15

// quietness is how busy the machine was just before a run: the share of CPU time not idle over
// a sample, with the load average.
type quietness struct {
	Busy    float64
	LoadAvg string
	Noisy   bool // measured anyway, over quietLimit
}

func (q quietness) String() string {
	s := fmt.Sprintf("%.0f%% of the CPUs busy over the 2 s before the run, load average %s", 100*q.Busy, q.LoadAvg)
	if q.Noisy {
		s += " (NOISY: measured with --noisy on a busy machine; do not quote)"
	}
	return s
}

// checkQuiet samples the machine for two seconds and refuses to go on when other work keeps
// more than quietLimit of it busy, unless noisy allows it, which marks the figures instead.
func checkQuiet(noisy bool) (quietness, error) {
	a, err := cpuTimes()
	if err != nil {
		return quietness{}, err
	}
	time.Sleep(2 * time.Second) // a sample of the machine, not a wait for a condition
	b, err := cpuTimes()
	if err != nil {
		return quietness{}, err
	}
	total, idle := b[0]-a[0], b[1]-a[1]
	q := quietness{LoadAvg: describeMachine().LoadAvg}
	if total > 0 {
		q.Busy = 1 - idle/total
	}
	if q.Busy > quietLimit {
		if !noisy {
			return q, fmt.Errorf("the machine is busy (%s): measure when nothing else runs, or pass --noisy to mark the figures as noisy", q)
		}
		q.Noisy = true
	}
	return q, nil
}

// cpuTimes reads /proc/stat's first line: all CPU time, and idle plus iowait, in ticks.
func cpuTimes() ([2]float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return [2]float64{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	var t [2]float64
	for i, f := range fields[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		t[0] += v
		if i == 3 || i == 4 { // idle, iowait
			t[1] += v
		}
	}
	return t, nil
}
