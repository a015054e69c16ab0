package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// walBacklogLimit ends a step early: a feed this far behind has fallen behind beyond doubt, and
// the slot would otherwise hold WAL until the disk fills.
const walBacklogLimit = 2 << 30

// walStep is one rate offered to one feed.
type walStep struct {
	link       string
	rate       float64 // MB/s offered; 0 for pgbench unthrottled
	wall       time.Duration
	written    int64 // WAL the server wrote
	copied     int64 // WAL the feed made durable in DIR: how far its slot moved
	read       int64 // bytes the server sent the feed
	firstPeak  int64 // the largest backlog over the step's first half
	peak       int64
	endBacklog int64
	cut        bool // ended early at walBacklogLimit
	keptUp     bool
}

// walPosition is where the server writes and where the feed's slot restarts, in bytes of WAL.
type walPosition struct{ written, copied int64 }

func (p walPosition) backlog() int64 { return p.written - p.copied }

func (b *walBench) position(ctx context.Context) (walPosition, error) {
	const q = `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, pg_wal_lsn_diff(restart_lsn, '0/0')::bigint
		FROM pg_replication_slots WHERE slot_name = $1 AND restart_lsn IS NOT NULL`
	var p walPosition
	if err := b.conn.QueryRow(ctx, q, walfeedSlot).Scan(&p.written, &p.copied); err != nil {
		return p, fmt.Errorf("reading the positions of the server and slot %s: %w", walfeedSlot, err)
	}
	return p, nil
}

// step offers rate for the step's length, sampling the feed's backlog, and judges whether the
// feed kept up: its backlog at the end is no more than its peak over the first half (at least
// two segments), plus the one segment the feed's position moves by.
func (b *walBench) step(ctx context.Context, feed *walFeedProcess, dir string, rate float64) (walStep, error) {
	st := walStep{rate: rate}
	args := []string{"-n", "-f", b.script, "-D", fmt.Sprintf("size=%d", b.s.message), "-c", strconv.Itoa(b.s.clients),
		"-j", strconv.Itoa(min(b.s.clients, 2)), "-T", strconv.Itoa(int(math.Ceil(b.s.step.Seconds())))}
	if rate > 0 {
		args = append(args, "-R", fmt.Sprintf("%.1f", rate*(1<<20)/float64(b.s.message)))
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := b.src.Pgbench(pctx, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start, err := b.position(ctx)
	if err != nil {
		return st, err
	}
	read0, t0 := b.counter.n.Load(), time.Now()
	if err := cmd.Start(); err != nil {
		return st, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil && !st.cut {
				return st, fmt.Errorf("pgbench %s: %v\n%s", strings.Join(args, " "), err, out.String())
			}
			running = false
		case <-feed.exited:
			return st, fmt.Errorf("pgpull wal exited:\n%s", feed.stderr())
		case <-tick.C:
			p, err := b.position(ctx)
			if err != nil {
				return st, err
			}
			st.note(p.backlog(), time.Since(t0) < b.s.step/2)
			if p.backlog() > walBacklogLimit && !st.cut {
				st.cut = true
				cancel()
			}
			if err := pruneSegments(dir); err != nil {
				return st, err
			}
		}
	}
	end, err := b.position(ctx)
	if err != nil {
		return st, err
	}
	st.wall, st.read = time.Since(t0), b.counter.n.Load()-read0
	st.written, st.copied, st.endBacklog = end.written-start.written, end.copied-start.copied, end.backlog()
	st.note(st.endBacklog, false)
	// Two segments: the one being written and one being copied, all a feed keeping up may owe
	// when the first half was too short to show its usual backlog.
	st.keptUp = !st.cut && st.endBacklog <= max(st.firstPeak, 2*b.segSize)+b.segSize
	return st, nil
}

func (st *walStep) note(backlog int64, firstHalf bool) {
	st.peak = max(st.peak, backlog)
	if firstHalf {
		st.firstPeak = max(st.firstPeak, backlog)
	}
}

// waitCaughtUp waits until the feed has copied every finished segment: its slot restarts in the
// segment being written.
func (b *walBench) waitCaughtUp(ctx context.Context, feed *walFeedProcess) error {
	deadline := time.Now().Add(5 * time.Minute)
	for ; ; time.Sleep(100 * time.Millisecond) {
		select {
		case <-feed.exited:
			return fmt.Errorf("pgpull wal exited:\n%s", feed.stderr())
		default:
		}
		p, err := b.position(ctx)
		if err == nil && p.written/b.segSize == p.copied/b.segSize {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the feed did not catch up with the server within 5 minutes (last: %v)\n%s", err, feed.stderr())
		}
	}
}

// pruneSegments removes from dir every finished segment but the newest: the bench counts what
// the feed copies by its slot, and a fast step would otherwise fill the disk with copies.
func pruneSegments(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var newest string
	var names []string
	for _, e := range entries {
		if pgformat.IsSegmentName(e.Name()) {
			names = append(names, e.Name())
			newest = max(newest, e.Name())
		}
	}
	for _, n := range names {
		if n != newest {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}

func (st walStep) row() string {
	mbps := func(n int64) float64 { return float64(n) / (1 << 20) / st.wall.Seconds() }
	verdict := "yes"
	switch {
	case st.cut:
		verdict = fmt.Sprintf("no (backlog past %d MB, step cut at %.0f s)", walBacklogLimit>>20, st.wall.Seconds())
	case !st.keptUp:
		verdict = "no"
	}
	perWAL := 0.0
	if st.copied > 0 {
		perWAL = float64(st.read) / float64(st.copied)
	}
	return fmt.Sprintf("| %s | %s | %.1f | %.1f | %.0f | %.0f | %.2f | %s |", st.link, rateName(st.rate), mbps(st.written), mbps(st.copied),
		float64(st.peak)/(1<<20), float64(st.endBacklog)/(1<<20), perWAL, verdict)
}

// sustained says, per link, the highest WAL rate the feed kept up with, and whether that was the
// most pgbench wrote.
func sustained(steps []walStep) []string {
	var lines []string
	for i := 0; i < len(steps); {
		link := steps[i].link
		best, ceiling, failed := -1.0, false, false
		for ; i < len(steps) && steps[i].link == link; i++ {
			st := steps[i]
			failed = failed || !st.keptUp
			if st.keptUp {
				best = max(best, float64(st.written)/(1<<20)/st.wall.Seconds())
				ceiling = ceiling || st.rate == 0
			}
		}
		switch {
		case best < 0:
			lines = append(lines, fmt.Sprintf("%s: the feed kept up with none of the rates offered", link))
		case ceiling:
			lines = append(lines, fmt.Sprintf("%s: the feed kept up with %.1f MB/s of WAL, all pgbench wrote unthrottled: a floor", link, best))
		case failed:
			lines = append(lines, fmt.Sprintf("%s: the feed kept up with %.1f MB/s of WAL, not with the next rate", link, best))
		default:
			lines = append(lines, fmt.Sprintf("%s: the feed kept up with %.1f MB/s of WAL, every rate offered: a floor", link, best))
		}
	}
	return lines
}
