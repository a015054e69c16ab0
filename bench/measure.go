package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// sample is one timed run of one configuration.
type sample struct {
	Config     string  `json:"config"`
	Tool       string  `json:"tool"`
	Jobs       int     `json:"jobs"`
	RangeSize  string  `json:"range_size,omitempty"`
	Compress   string  `json:"compress"`
	Run        int     `json:"run"`
	WallSec    float64 `json:"wall_s"`
	UserSec    float64 `json:"user_s"`
	SysSec     float64 `json:"sys_s"`
	BytesOut   int64   `json:"bytes_out"`
	PeakRSSKiB int64   `json:"peak_rss_kib"`
	// FirstByteSec is the time from the start to the first bytes on stdout, and TailSec from the
	// last to the exit: the fixed costs around the stream. 0 for a tool whose output is not stdout.
	FirstByteSec float64 `json:"first_byte_s,omitempty"`
	TailSec      float64 `json:"tail_s,omitempty"`
	Error        string  `json:"error,omitempty"`
}

// CPUSec is the child's user plus system time.
func (s sample) CPUSec() float64 { return s.UserSec + s.SysSec }

// countingWriter counts what a child writes to stdout and throws it away,
// so only the tool's own work is timed, not a disk's; it notes when the
// first and the last bytes came.
type countingWriter struct {
	n           int64
	first, last time.Time
}

func (w *countingWriter) Write(p []byte) (int, error) {
	now := time.Now()
	if w.n == 0 {
		w.first = now
	}
	w.last = now
	w.n += int64(len(p))
	return len(p), nil
}

// childUsage is what the kernel reports about a finished child: its wall
// time measured here, and rusage, which covers the child and the children
// it waited for (pgBackRest's worker processes, runuser's program).
type childUsage struct {
	wall       time.Duration
	user, sys  time.Duration
	peakRSSKiB int64
	stdout     int64
	// firstByte and tail are the time to the first bytes on stdout and from the last to the
	// exit; 0 when nothing came.
	firstByte, tail time.Duration
}

// runChild runs cmd with stdout counted and stderr kept for the error.
func runChild(ctx context.Context, cmd *exec.Cmd) (childUsage, error) {
	var out countingWriter
	var stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	if cmd.Stderr != nil {
		cmd.Stderr = io.MultiWriter(cmd.Stderr, &stderr)
	} else {
		cmd.Stderr = &stderr
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return childUsage{}, err
	}
	stop := make(chan struct{})
	peak := pollPeakRSS(cmd.Process.Pid, stop)
	err := cmd.Wait()
	u := childUsage{wall: time.Since(t0), stdout: out.n}
	if out.n > 0 {
		u.firstByte, u.tail = out.first.Sub(t0), u.wall-out.last.Sub(t0)
	}
	close(stop)
	polled := <-peak
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			u.user = time.Duration(ru.Utime.Nano())
			u.sys = time.Duration(ru.Stime.Nano())
			u.peakRSSKiB = ru.Maxrss // kilobytes on Linux
		}
	}
	if polled > 0 {
		u.peakRSSKiB = polled // see pollPeakRSS for why rusage is only the fallback
	}
	if err != nil {
		if ctx.Err() != nil {
			return u, ctx.Err()
		}
		return u, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, lastLines(stderr.String(), 5))
	}
	return u, nil
}

// lastLines keeps the end of a child's stderr for an error message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
