package main

import (
	"fmt"
	"io"
	"time"

	"github.com/pgpull/pgpull/backup"
)

// progressLog writes the run's phase and progress lines on stderr: the wait for a spread
// checkpoint always (it can take minutes and looks like a hang), the rest with -v.
type progressLog struct {
	w       io.Writer
	verbose bool
	spread  bool
	phase   backup.Phase
	last    time.Time
}

// verboseEvery spaces -v's progress lines.
const verboseEvery = 5 * time.Second

// idleShown is how long nothing may move before -v and -P say so instead of a rate, which would
// count down as if something still came: a healthy copy is never that quiet (at most 3.1 s on
// the 20 ms / 200 Mbit bench link, see defaultIOTimeout), and 20 s leaves the user the rest of
// --io-timeout's 30 s to look before pgpull gives up on the connection.
const idleShown = 20 * time.Second

// idle says how long nothing has moved, "" while that is under idleShown.
func idle(p backup.Progress) string {
	if p.Idle < idleShown || p.Phase == backup.PhaseDone {
		return ""
	}
	return fmt.Sprintf("no data for %d s", int(p.Idle.Seconds()))
}

func (l *progressLog) observe(p backup.Progress) {
	if p.Phase != l.phase {
		l.phase = p.Phase
		if p.Phase == backup.PhaseCheckpoint && l.spread {
			fmt.Fprintf(l.w, "pgpull: waiting for the server's checkpoint (spread; -c fast to hurry it)\n")
		}
	}
	stalled := idle(p)
	copying := p.Phase == backup.PhaseCopy && p.Done() > 0
	if !l.verbose || !copying && stalled == "" || time.Since(l.last) < verboseEvery {
		return
	}
	l.last = time.Now()
	refresh := ""
	if p.Compared > 0 {
		refresh = fmt.Sprintf("; %s compared with the copy, %s moved", humanSize(p.Compared), humanSize(p.Received))
	}
	speed := stalled
	if speed == "" {
		speed = rate(p.Done(), time.Since(p.Copying))
	}
	fmt.Fprintf(l.w, "pgpull: copied %s of about %s; %s%s\n", humanSize(p.Done()), humanSize(p.Total), speed, refresh)
}

// amount is the one wording of what a backup holds, in -v, in the summary line and in verify:
// the files backup_manifest lists, and the WAL segments apart.
func amount(files, bytes, walSegments int64) string {
	return fmt.Sprintf("%d %s (%s) and %d WAL %s", files, plural(int(files), "file", "files"), humanSize(bytes),
		walSegments, plural(int(walSegments), "segment", "segments"))
}

// rate is bytes over d in MB/s.
func rate(bytes int64, d time.Duration) string {
	if d <= 0 {
		return "- MB/s"
	}
	return fmt.Sprintf("%.0f MB/s", float64(bytes)/d.Seconds()/1e6)
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20 || n == 0:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f kiB", float64(n)/(1<<10))
}
