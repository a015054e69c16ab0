package backup

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/pipeline"
	"github.com/pgpull/pgpull/stages/changes"
	"github.com/pgpull/pgpull/stages/fetch"
)

// Phase is the step a run is in.
type Phase string

const (
	PhaseCheckpoint Phase = "checkpoint" // pg_backup_start waits for the server's checkpoint
	PhaseCopy       Phase = "copy"       // the data directory and WAL are being copied
	PhaseStop       Phase = "stop"       // pg_backup_stop waits for the last WAL to be written
	PhaseWAL        Phase = "wal"        // the WAL through the stop point is being copied
	PhaseDone       Phase = "done"
)

// Progress is what a run has done so far. Files and Bytes count what backup_manifest lists (the
// data directory's regular files, with backup_label, tablespace_map and pg_wal's markers and
// history files); WAL segments are counted apart; Total adds what the listing has found so far
// and the WAL still expected.
type Progress struct {
	Phase       Phase
	Files       int64
	Bytes       int64 // of Files
	WALSegments int64
	WALBytes    int64 // of WALSegments
	Total       int64 // expected Bytes + WALBytes at the end
	// Copying is when the first byte reached the destination; zero before.
	Copying time.Time
	// Compared counts the bytes of ranges compared with the destination's copy (a refresh);
	// Received the file bytes the server sent, changed blocks and ranges read whole.
	Compared, Received int64
	// Jobs and JobsWhy are -j auto's last decision: the fetch connections from then on and why;
	// zero and "" for a fixed -j.
	Jobs    int
	JobsWhy string
	// BlocksExamined and BlocksSent are an incremental backup's relation blocks looked at so far
	// and those sent; zero for a full backup.
	BlocksExamined, BlocksSent int64
	// Idle is how long nothing has moved, no byte from the server and none to the destination,
	// as of the report; counted from the copy's start.
	Idle time.Duration
}

// Done is all the bytes written so far.
func (p Progress) Done() int64 { return p.Bytes + p.WALBytes }

// tally counts a run's progress; the stages add to it from many goroutines.
type tally struct {
	segmentSize int64
	phase       atomic.Value // Phase
	changed     chan struct{}

	listed, listedWAL                   atomic.Int64
	files, bytes, walSegments, walBytes atomic.Int64
	compared, received                  atomic.Int64
	copying                             atomic.Int64 // unix nanoseconds of the first byte written
	skipFile                            bool         // the file being written is left out
	jobs                                atomic.Value // fetch.Step: -j auto's last decision
	changes                             changes.Tally
	// moved is the bytes received and written at the last report, and movedAt (unix nanoseconds)
	// when that count last changed, or the copy began: only the reporting goroutine writes them.
	moved, movedAt atomic.Int64
}

func newTally(segmentSize int64) *tally {
	t := &tally{segmentSize: segmentSize, changed: make(chan struct{}, 1)}
	t.phase.Store(PhaseCheckpoint)
	return t
}

func (t *tally) setPhase(p Phase) {
	if p == PhaseCopy {
		t.movedAt.Store(time.Now().UnixNano())
	}
	t.phase.Store(p)
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

func (t *tally) snapshot() Progress {
	p := Progress{Phase: t.phase.Load().(Phase), Files: t.files.Load(), Bytes: t.bytes.Load(),
		WALSegments: t.walSegments.Load(), WALBytes: t.walBytes.Load(), Total: t.listed.Load(),
		Compared: t.compared.Load(), Received: t.received.Load(),
		BlocksExamined: t.changes.Examined.Load(), BlocksSent: t.changes.Sent.Load()}
	if ns := t.copying.Load(); ns != 0 {
		p.Copying = time.Unix(0, ns)
	}
	if s, ok := t.jobs.Load().(fetch.Step); ok {
		p.Jobs, p.JobsWhy = s.Jobs, s.Why
	}
	if t.listedWAL.Load() == 0 {
		p.Total += t.segmentSize // at least the segment holding the start point is to come
	}
	if at := t.movedAt.Load(); at != 0 {
		p.Idle = time.Since(time.Unix(0, at))
	}
	p.Total = max(p.Total, p.Done())
	return p
}

// isWALSegment tells the WAL segments under pg_wal, which backup_manifest does not list.
func (t *tally) isWALSegment(f *pipeline.File) bool {
	name, ok := strings.CutPrefix(f.Path, "pg_wal/")
	if !ok {
		return false
	}
	_, _, ok = pgformat.ParseName(name, t.segmentSize)
	return ok
}

// count passes the sources' Items on to the splitter, adding each file's size to what is
// expected.
func (t *tally) count(ctx context.Context, in <-chan pipeline.Item, out chan<- pipeline.Item) error {
	for it := range in {
		if it.File != nil && !it.File.Dir {
			t.listed.Add(it.File.Size)
			if t.isWALSegment(it.File) {
				t.listedWAL.Add(1)
			}
		}
		if err := pipeline.Send(ctx, out, it); err != nil {
			return err
		}
	}
	return nil
}

// written counts a Piece the sink has taken. Only the writing stage calls it, in stream order.
func (t *tally) written(p *pipeline.Piece) {
	if p.File.Dir {
		return
	}
	if p.First() {
		// A file gone when first read is left out of the backup and its manifest.
		t.skipFile = p.Missing
	}
	if t.skipFile {
		return
	}
	if p.Length > 0 && t.copying.Load() == 0 {
		t.copying.Store(time.Now().UnixNano())
	}
	if t.isWALSegment(p.File) {
		t.walBytes.Add(p.Length)
		if p.Last() {
			t.walSegments.Add(1)
		}
		return
	}
	t.bytes.Add(p.Length)
	if p.Last() {
		t.files.Add(1)
	}
}

// report hands observe a snapshot at every phase change and every interval, until ctx ends.
func (t *tally) report(ctx context.Context, interval time.Duration, observe func(Progress)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	observe(t.snapshot())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.changed:
		case <-tick.C:
		}
		t.noteMoves()
		observe(t.snapshot())
	}
}

// noteMoves restarts the idle count when bytes came from the server or went to the destination
// since the last report.
func (t *tally) noteMoves() {
	if moved := t.received.Load() + t.bytes.Load() + t.walBytes.Load(); moved != t.moved.Load() {
		t.moved.Store(moved)
		t.movedAt.Store(time.Now().UnixNano())
	}
}
