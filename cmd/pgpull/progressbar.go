package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pgpull/pgpull/backup"
)

// progressDisplay is -P: on a terminal a bar redrawn in place (bytes done of the expected total,
// rate, time left, files, WAL segments, phase); elsewhere a plain line every plainEvery and at
// each phase change, so that a log file gets a few lines, not a bar per second.
type progressDisplay struct {
	w        io.Writer
	terminal bool
	bar      *progressbar.ProgressBar // made at the first byte copied, so its rate counts from there
	phase    backup.Phase
	last     time.Time
}

const plainEvery = 3 * time.Second

// newProgressDisplay draws on w, which writes to raw, the process's stderr.
func newProgressDisplay(w, raw io.Writer) *progressDisplay {
	f, ok := raw.(*os.File)
	return &progressDisplay{w: w, terminal: ok && isTerminal(f)}
}

func (d *progressDisplay) observe(p backup.Progress) {
	if d.terminal {
		d.draw(p)
		return
	}
	changed := p.Phase != d.phase
	d.phase = p.Phase
	if p.Done() == 0 || !changed && time.Since(d.last) < plainEvery {
		return // before the first byte there is nothing to count; the checkpoint has its own line
	}
	d.last = time.Now()
	line := fmt.Sprintf("pgpull: %s: %s of %s", p.Phase, humanSize(p.Done()), humanSize(p.Total))
	if p.Total > 0 {
		line += fmt.Sprintf(" (%.0f%%)", 100*float64(p.Done())/float64(p.Total))
	}
	if stalled := idle(p); stalled != "" {
		line += ", " + stalled
	} else if !p.Copying.IsZero() {
		e := progressEvent(p, time.Now())
		line += ", " + rate(p.Done(), time.Since(p.Copying))
		if e.ETASeconds != nil && p.Phase != backup.PhaseDone {
			line += fmt.Sprintf(", %s left", (time.Duration(*e.ETASeconds) * time.Second).String())
		}
	}
	fmt.Fprintf(d.w, "%s, %d %s, %d WAL %s\n", line, p.Files, plural(int(p.Files), "file", "files"),
		p.WALSegments, plural(int(p.WALSegments), "segment", "segments"))
}

// draw updates the bar on the terminal.
func (d *progressDisplay) draw(p backup.Progress) {
	if d.bar == nil {
		if p.Done() == 0 {
			return
		}
		d.bar = progressbar.NewOptions64(p.Total,
			progressbar.OptionSetWriter(d.w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionShowCount(),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionUseANSICodes(true))
	}
	d.bar.ChangeMax64(p.Total)
	describe := fmt.Sprintf("%-4s %d files, %d WAL", p.Phase, p.Files, p.WALSegments)
	if stalled := idle(p); stalled != "" {
		describe += ", " + stalled // the bar's own rate and time left count down meanwhile
	}
	d.bar.Describe(describe)
	_ = d.bar.Set64(p.Done())
	if p.Phase == backup.PhaseDone {
		_ = d.bar.Finish()
		fmt.Fprintln(d.w)
	}
}
