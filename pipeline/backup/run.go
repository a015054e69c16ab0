package backup

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/time/rate"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/pipeline"
	"github.com/pgpull/pgpull/sinks"
	"github.com/pgpull/pgpull/stages/delta"
	"github.com/pgpull/pgpull/stages/fetch"
	"github.com/pgpull/pgpull/stages/list"
	"github.com/pgpull/pgpull/stages/reorder"
	"github.com/pgpull/pgpull/stages/split"
	"github.com/pgpull/pgpull/stages/verify"
	"github.com/pgpull/pgpull/stages/wal"
)

// Result is what a finished run reports.
type Result struct {
	Start, Stop pgformat.LSN
	Timeline    uint32
	// Files, Bytes, WALSegments and WALBytes count as Progress does.
	Files, Bytes          int64
	WALSegments, WALBytes int64
	Duration              time.Duration // from the first connection to the end
	Copying               time.Duration // from the first byte written to the end
	PageFailures          []pgformat.PageFailure
	ManifestChecksum      string // "" without a manifest
	// Compared is the bytes of ranges compared with the destination's copy (a refresh), and
	// Received the bytes of file data the server sent.
	Compared, Received int64
}

// controlPingInterval is how often the idle control session is checked: losing it loses the
// backup, and a ping is one round trip.
const controlPingInterval = 2 * time.Second

// Run takes the backup into sink. On failure the sink is aborted and the server's backup ends
// with the control session; on success the sink is closed with the manifest.
func (b *Backup) Run(ctx context.Context, sink sinks.Sink) (res Result, err error) {
	began := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	ctl, err := session.OpenControl(ctx, b.conn, b.Server, b.opts.LogSQL)
	if err != nil {
		return res, err
	}
	b.conn = nil
	defer ctl.Close(context.Background())
	defer func() {
		if err != nil {
			if aerr := sink.Abort(); aerr != nil {
				b.opts.Log("cleaning up the destination: %v", aerr)
			}
		}
	}()

	listConn, err := session.Connect(ctx, b.cfg, "pgpull list")
	if err != nil {
		return res, err
	}
	defer listConn.Close(context.Background())
	walConn, err := session.Connect(ctx, b.cfg, "pgpull wal")
	if err != nil {
		return res, err
	}
	defer walConn.Close(context.Background())

	b.opts.Log("starting the backup (%s checkpoint)", map[bool]string{true: "fast", false: "spread"}[b.opts.Fast])
	t := newTally(b.Server.WALSegmentSize)
	progressCtx, endProgress := context.WithCancel(ctx)
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t.report(progressCtx, b.observe)
	}()
	defer func() {
		endProgress()
		<-progressDone // so that no progress report follows the run's own last words
	}()
	start, err := ctl.Begin(ctx, b.opts.Label, b.opts.Fast)
	if err != nil {
		return res, err
	}
	t.setPhase(PhaseCopy)
	res.Start, res.Timeline = start.LSN, start.Timeline
	if start.Slot != "" {
		b.opts.Log("backup started at %s on timeline %d; temporary slot %s holds WAL", start.LSN, start.Timeline, start.Slot)
	} else {
		b.opts.Log("backup started at %s on timeline %d; no slot holds WAL: %s", start.LSN, start.Timeline, start.NoSlot)
	}

	manifestVersion := 1
	if b.Server.Major() >= 17 {
		manifestVersion = 2
	}
	manifest := manifest.New(manifestVersion, b.Server.SystemID, b.opts.Checksums)
	budget := pipeline.NewBudget(b.opts.InFlightBytes(), int(b.opts.RangeSize))
	var pages *verify.PageVerifier
	if b.opts.VerifyPages && b.Server.DataChecksums {
		pages = verify.NewPageVerifier(uint64(start.LSN), b.Server.BlocksPerSegment)
	}
	var limiter *rate.Limiter
	if b.opts.MaxRate > 0 {
		// A tenth of a second's worth: the first burst is free, so a larger one would overshoot the
		// cap on short runs at low rates. Reads larger than the burst wait for it in parts.
		limiter = rate.NewLimiter(rate.Limit(b.opts.MaxRate), int(max(b.opts.MaxRate/10, 1)))
	}

	stopped := make(chan pgformat.LSN, 1)
	var stop session.Stop
	items := make(chan pipeline.Item, 256)
	listed := make(chan pipeline.Item, 256)
	requests := make(chan *pipeline.Request, b.opts.Jobs)
	fetched := make(chan *pipeline.Request, b.opts.Jobs)
	ordered := make(chan *pipeline.Piece, 64)
	walChecked := make(chan *pipeline.Piece, 64)
	checked := make(chan *pipeline.Piece, 64)
	walCheck, err := b.walChecker(start)
	if err != nil {
		return res, err
	}

	g := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	watchStop, watchDone := make(chan struct{}), make(chan struct{})
	g.Go(func(ctx context.Context) error {
		defer close(watchDone)
		return ctl.Watch(ctx, controlPingInterval, watchStop)
	})
	// quietControl stops the watch, which must not share the session with pg_backup_stop.
	quietControl := func() {
		close(watchStop)
		<-watchDone
	}
	// Two sources merge into the stream: the data directory, whose end stops the backup, and
	// the WAL scanner, which ends once it has sent the WAL through the stop point.
	scanner := &wal.Scanner{Conn: walConn, SegmentSize: b.Server.WALSegmentSize, Start: start.LSN,
		Timeline: start.Timeline, Interval: b.opts.WALInterval, Stop: stopped,
		LogSQL: b.opts.LogSQL, Log: b.opts.Log}
	lister := &list.Lister{Conn: listConn, Server: b.Server, Tablespaces: b.Tablespaces, CheckPages: pages != nil, LogSQL: b.opts.LogSQL}
	pipeline.GoEach(g, items,
		func(ctx context.Context) error {
			if err := lister.Run(ctx, items); err != nil {
				return err
			}
			var err error
			if stop, err = b.finishData(ctx, ctl, quietControl, listConn, items, t); err != nil {
				return err
			}
			if walCheck != nil {
				walCheck.SetStop(stop.LSN) // before the scanner can send the segment holding it
			}
			stopped <- stop.LSN
			return nil
		},
		func(ctx context.Context) error { return scanner.Run(ctx, items) })
	splitter := &split.Splitter{RangeSize: b.opts.RangeSize, SmallFile: b.opts.RangeSize / 8, BatchFiles: 1000, Budget: budget}
	pipeline.Go(g, listed, func(ctx context.Context) error { return t.count(ctx, items, listed) })
	pipeline.Go(g, requests, func(ctx context.Context) error { return splitter.Run(ctx, listed, requests) })
	var compared, received atomic.Int64
	toFetch := requests
	if b.Local != nil {
		hashed := make(chan *pipeline.Request, b.opts.Jobs)
		pipeline.GoAll(g, hashed, runtime.GOMAXPROCS(0), func(ctx context.Context) error {
			h := &delta.Hasher{Copy: b.Local, Budget: budget, Compared: &compared}
			return h.Run(ctx, requests, hashed)
		})
		toFetch = hashed
	}
	pipeline.GoAll(g, fetched, b.opts.Jobs, func(ctx context.Context) error {
		w := &fetch.Worker{Connect: func(ctx context.Context) (*pgconn.PgConn, error) {
			return session.ConnectRaw(ctx, b.cfg, "pgpull fetch")
		}, Budget: budget, Limiter: limiter, Timeout: b.opts.IOTimeout,
			Retries: 5, Backoff: 500 * time.Millisecond, Log: b.opts.Log, LogSQL: b.opts.LogSQL,
			Received: &received}
		if pages != nil {
			w.Pages = pages
		}
		if b.opts.ServerCompress {
			w.Reader = &fetch.Compressed{}
		}
		return w.Run(ctx, toFetch, fetched)
	})
	pipeline.Go(g, ordered, func(ctx context.Context) error { return reorder.Run(ctx, fetched, ordered) })
	if walCheck != nil {
		pipeline.Go(g, walChecked, func(ctx context.Context) error { return walCheck.Run(ctx, ordered, walChecked) })
	} else {
		walChecked = ordered
	}
	summer := verify.NewChecksummer(b.opts.Checksums, manifest)
	pipeline.Go(g, checked, func(ctx context.Context) error { return summer.Run(ctx, walChecked, checked) })
	g.Go(func(ctx context.Context) error {
		return write(ctx, checked, sink, t)
	})
	if err = g.Wait(); err != nil {
		return res, err
	}
	res.Stop = stop.LSN
	if tli, ok := session.LabelStartTimeline(stop.Label); ok {
		res.Timeline = tli
	}
	var manifestBytes []byte
	if b.opts.Manifest {
		manifest.AddWALRange(res.Timeline, uint64(res.Start), uint64(res.Stop))
		manifestBytes = manifest.Bytes()
		res.ManifestChecksum = manifestChecksum(manifestBytes)
	}
	if err := sink.Close(manifestBytes); err != nil {
		return res, err
	}
	endProgress()
	<-progressDone
	t.setPhase(PhaseDone)
	final := t.snapshot()
	b.observe(final)
	res.Files, res.Bytes, res.WALSegments, res.WALBytes = final.Files, final.Bytes, final.WALSegments, final.WALBytes
	res.Duration = time.Since(began)
	if !final.Copying.IsZero() {
		res.Copying = time.Since(final.Copying)
	}
	res.Compared, res.Received = compared.Load(), received.Load()
	if pages != nil {
		res.PageFailures = pages.Failures()
	}
	return res, nil
}

// walChecker makes the WAL check stage, or nil when it is off.
func (b *Backup) walChecker(start session.Start) (*wal.Checker, error) {
	if !b.opts.CheckWAL {
		return nil, nil
	}
	magic, ok := pgformat.WALPageMagic(b.Server.Major())
	if !ok {
		return nil, fmt.Errorf("pgpull does not know the WAL format of PostgreSQL %d; use --no-check-wal", b.Server.Major())
	}
	r := pgformat.WALRange{Start: start.LSN, Timeline: start.Timeline, SegmentSize: b.Server.WALSegmentSize,
		Magic: magic, SystemID: b.Server.SystemID, BlockSize: b.Server.WALBlockSize}
	return wal.NewChecker(r, b.rereadWAL, b.opts.Log)
}

// rereadWAL reads a whole WAL file again, on a connection of its own: a second look is rare, and
// every other connection is busy.
func (b *Backup) rereadWAL(ctx context.Context, f *pipeline.File) ([]byte, error) {
	conn, err := session.Connect(ctx, b.cfg, "pgpull wal check")
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	const q = `SELECT pg_read_binary_file($1, 0, $2, true)`
	b.opts.LogSQL(q)
	var data []byte
	if err := conn.QueryRow(ctx, q, f.Source, f.Size).Scan(&data); err != nil {
		return nil, fmt.Errorf("reading %s again: %w", f.Path, err)
	}
	return data, nil
}

// InFlightBytes is how many bytes may be between the splitter and the sink: enough for every job
// to hold two ranges, so that a slow range does not stall the others behind the reorder window.
func (o Options) InFlightBytes() int64 {
	return max(int64(o.Jobs)*2, 4) * o.RangeSize
}

// finishData copies global/pg_control once every other data file has been read, as pg_basebackup
// does (a backup from a standby depends on it), stops the backup, and sends backup_label and,
// when asked for, tablespace_map.
func (b *Backup) finishData(ctx context.Context, ctl *session.Control, quietControl func(), conn *pgx.Conn, items chan<- pipeline.Item, t *tally) (session.Stop, error) {
	var stop session.Stop
	barrier := make(chan struct{})
	if err := send(ctx, items, pipeline.Item{Barrier: barrier}); err != nil {
		return stop, err
	}
	select {
	case <-barrier:
	case <-ctx.Done():
		return stop, ctx.Err()
	}
	control, err := session.ReadPgControl(ctx, conn, b.opts.LogSQL)
	if err != nil {
		return stop, err
	}
	_ = conn.Close(ctx)
	quietControl()
	t.setPhase(PhaseStop)
	if stop, err = ctl.End(ctx); err != nil {
		return stop, err
	}
	t.setPhase(PhaseWAL)
	b.opts.Log("backup stopped at %s", stop.LSN)
	now := time.Now()
	closing := []*pipeline.File{
		{Path: "global/pg_control", Content: control, Size: pgformat.ControlFileSize, ModTime: now, Segment: -1},
		{Path: "backup_label", Content: []byte(stop.Label), Size: int64(len(stop.Label)), ModTime: now, Segment: -1},
	}
	if b.opts.TablespaceMap && stop.TablespaceMap != "" {
		closing = append(closing, &pipeline.File{Path: "tablespace_map", Content: []byte(stop.TablespaceMap),
			Size: int64(len(stop.TablespaceMap)), ModTime: now, Segment: -1})
	}
	for _, f := range closing {
		if err := send(ctx, items, pipeline.Item{File: f}); err != nil {
			return stop, err
		}
	}
	return stop, nil
}

func send(ctx context.Context, out chan<- pipeline.Item, it pipeline.Item) error {
	select {
	case out <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write is the last stage: it hands each Piece to the sink and gives its bytes back.
func write(ctx context.Context, in <-chan *pipeline.Piece, sink sinks.Sink, t *tally) error {
	for {
		select {
		case p, ok := <-in:
			if !ok {
				return nil
			}
			err := sink.Put(p)
			p.Done()
			if err != nil {
				return err
			}
			t.written(p)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// observe hands a progress report to the caller, if it asked for them.
func (b *Backup) observe(p Progress) {
	if b.opts.Observe != nil {
		b.opts.Observe(p)
	}
}
