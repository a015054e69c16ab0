package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// peakRSSPollInterval is how often a child's memory is sampled. The value
// read is each process's own high-water mark (VmHWM), so sampling late
// loses only processes that start and end between two samples.
const peakRSSPollInterval = 20 * time.Millisecond

// pollPeakRSS samples the high-water RSS of pid and its descendants until
// stop closes, then sends the largest sum seen, in KiB. It exists because
// rusage's ru_maxrss of a child started from Go starts at the parent's
// own peak (the child is vfork'ed and exec keeps the old mm's high-water
// mark), which hides any child smaller than this benchmark process.
func pollPeakRSS(pid int, stop <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(peakRSSPollInterval)
		defer t.Stop()
		for {
			var sum int64
			for _, p := range processTree(pid) {
				sum += vmHWMKiB(p)
			}
			peak = max(peak, sum)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// processTree lists pid and its live descendants from /proc.
func processTree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, err := os.ReadDir("/proc/" + strconv.Itoa(out[i]) + "/task")
		if err != nil {
			continue
		}
		for _, task := range tasks {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(out[i]) + "/task/" + task.Name() + "/children")
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// vmHWMKiB reads a process's peak resident set size; 0 if it is gone.
func vmHWMKiB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
