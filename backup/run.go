package backup

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/time/rate"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/pipeline"
	"github.com/pgpull/pgpull/sinks"
	"github.com/pgpull/pgpull/stages/changes"
	"github.com/pgpull/pgpull/stages/delta"
	"github.com/pgpull/pgpull/stages/fetch"
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
	// Changes is what an incremental backup's pass 1 found; zero for a full backup.
	Changes ChangesResult
	// Removed is how many files a refresh removed because the server no longer has them.
	Removed int64
	// Jobs and JobsWhy are the fetch connections -j auto settled on and why; 0 and "" for a fixed -j.
	Jobs    int
	JobsWhy string
}

// ChangesResult is what an incremental backup's pass 1 found: how, the blocks of the files it
// looked at and those sent (whole files count all theirs), the files sent whole and as
// INCREMENTAL files.
type ChangesResult struct {
	Method                       string
	BlocksExamined, BlocksSent   int64
	FilesWhole, FilesIncremental int64
}

// Run takes the backup into sink, in three parts: begin opens the sessions and starts the backup
// on the server, stages runs list -> split -> fetch -> reorder -> verify -> sink until the data
// and WAL are through, and finish closes the sink with the manifest. Run owns sink from here on:
// on success it is closed, on any failure aborted, and the server's backup ends with the control
// session either way.
func (b *Backup) Run(ctx context.Context, sink sinks.Sink) (res Result, err error) {
	began := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() {
		if err != nil {
			if aerr := sink.Abort(); aerr != nil {
				b.opts.Log("cleaning up the destination: %v", aerr)
			}
		}
	}()
	r := &run{b: b, tally: newTally(b.Server.WALSegmentSize)}
	defer r.close()
	if b.opts.Refresh {
		if err := r.openLocal(sink); err != nil {
			return res, err
		}
	}
	progressCtx, endProgress := context.WithCancel(ctx)
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.tally.report(progressCtx, b.opts.Tuning.Progress, b.observe)
	}()
	r.endProgress = func() {
		endProgress()
		<-progressDone // so that no progress report follows the run's own last words
	}
	defer r.endProgress()

	if err := r.begin(ctx); err != nil {
		return res, err
	}
	if err := r.stages(ctx, sink); err != nil {
		return res, err
	}
	return r.finish(ctx, sink, began)
}

// run is one backup in progress: what begin opened and started, what the stages share, and what
// they found for finish.
type run struct {
	b                 *Backup
	srv               server
	ctl               *session.Control
	listConn, walConn *pgx.Conn
	start             session.Start
	manifest          *manifest.Manifest
	budget            *pipeline.Budget
	pages             *verify.PageVerifier // nil when pages are not checked
	limiter           *rate.Limiter        // nil without --max-rate
	tally             *tally
	endProgress       func() // stops the progress reports and waits for the last

	stop       session.Stop // set by the lister's goroutine once the data is through
	fetchConns openedConns  // begun during begin, for the fetch workers to take
	fetcher    *fetch.Pool
	copier     sinks.LocalCopier // a refresh's sink, and the copy it reads back
	local      *sinks.LocalCopy

	changesConn *pgx.Conn         // an incremental backup's pass 1
	changes     *changes.Stage    // nil for a full backup
	fallback    *changes.Fallback // on 17+: summaries, else page LSNs
}

// openLocal opens the copy a refresh compares with: the one its sink writes into.
func (r *run) openLocal(sink sinks.Sink) error {
	var ok bool
	if r.copier, ok = sink.(sinks.LocalCopier); !ok {
		return fmt.Errorf("a refresh needs a destination it can read back: a plain directory")
	}
	var err error
	r.local, err = r.copier.LocalCopy()
	return err
}

// begin takes over the control connection, opens the lister's, the WAL scanner's and the first
// fetch workers' connections, and starts the backup on the server.
func (r *run) begin(ctx context.Context) error {
	b := r.b
	r.ctl = session.NewControl(b.conn, b.Server, b.opts.IOTimeout)
	b.conn = nil
	// The other connections open while the control session starts the backup: each costs a few
	// round trips (0.1-0.2 s through a 20 ms link) and a server process to start, and
	// pg_backup_start waits for a checkpoint besides. Should the lister's, the WAL scanner's or
	// pass 1's fail, close ends the backup begun meanwhile; a fetch worker whose connection
	// failed to open opens its own, and says why if that fails too.
	var listErr, walErr, changesErr error
	var opening sync.WaitGroup
	opening.Go(func() { r.listConn, listErr = session.ConnectUnprepared(ctx, b.cfg, "pgpull list") })
	opening.Go(func() { r.walConn, walErr = session.ConnectUnprepared(ctx, b.cfg, "pgpull wal") })
	var pass1 changesSession
	if b.opts.changesPrior() != nil {
		opening.Go(func() { pass1, changesErr = r.openChanges(ctx) })
	}
	r.fetchConns.start(ctx, b.cfg, b.opts.startJobs(), b.ServerCodec)
	b.opts.Log("starting the backup (%s checkpoint)", map[bool]string{true: "fast", false: "spread"}[b.opts.Fast])
	var err error
	r.start, err = r.ctl.Begin(ctx, b.opts.Label, b.opts.Fast, b.NoSlot)
	opening.Wait()
	for _, e := range []error{listErr, walErr, changesErr, err} {
		if e != nil {
			return e
		}
	}
	if b.opts.RequireSlot && r.start.Slot == "" {
		return fmt.Errorf("--require-slot: no replication slot can hold WAL for this backup: %s; "+
			"free a slot, or take the backup again", r.start.NoSlot)
	}
	r.srv = pgSessions{r}
	r.tally.setPhase(PhaseCopy)
	if b.opts.changesPrior() != nil {
		if r.changes, err = r.changesStage(ctx, pass1); err != nil {
			return err
		}
	}
	if r.start.Slot != "" {
		b.opts.Log("backup started at %s on timeline %d; temporary slot %s holds WAL", r.start.LSN, r.start.Timeline, r.start.Slot)
	} else {
		b.opts.Log("backup started at %s on timeline %d; no slot holds WAL: %s", r.start.LSN, r.start.Timeline, r.start.NoSlot)
	}
	r.prepare()
	return nil
}

// prepare makes what the stages share once the backup has started: the manifest, the byte
// budget, the page verifier and the rate limiter.
func (r *run) prepare() {
	b, tu := r.b, r.b.opts.Tuning
	manifestVersion := 1
	if b.Server.Major() >= 17 {
		manifestVersion = 2
	}
	r.manifest = manifest.New(manifestVersion, b.Server.SystemID, b.opts.Checksums)
	r.budget = pipeline.NewGrowingBudget(b.opts.inFlightBytes(b.opts.startJobs()), b.opts.InFlightBytes(), int(b.opts.RangeSize))
	if b.opts.VerifyPages && b.Server.DataChecksums {
		r.pages = verify.NewPageVerifier(uint64(r.start.LSN), b.Server.BlocksPerSegment)
	}
	if b.opts.MaxRate > 0 {
		// Reads larger than the burst wait for it in parts.
		burst := float64(b.opts.MaxRate) * tu.RateBurst.Seconds()
		r.limiter = rate.NewLimiter(rate.Limit(b.opts.MaxRate), max(int(burst), 1))
	}
}

// weighWALRate measures, for a run no slot protects, the WAL rate on the control session a
// second after Connect's first reading, and hands the risk to Options.WALRisk. The second
// overlaps the backup's start and copy instead of coming before them.
func (r *run) weighWALRate(ctx context.Context, stop <-chan struct{}) error {
	b := r.b
	if b.walSample == nil {
		return nil
	}
	rate, ok, err := r.ctl.WALRate(ctx, *b.walSample, stop)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return r.ctl.Lost(err)
	}
	if ok && b.opts.WALRisk != nil {
		risk := b.walRisk
		risk.WALRate = rate
		b.opts.WALRisk(b.NoSlot, risk)
	}
	return nil
}

// close ends the sessions begin opened. A backup still running on the server is aborted with the
// control session.
func (r *run) close() {
	if r.local != nil {
		r.local.Close()
	}
	r.fetchConns.close()
	for _, c := range []*pgx.Conn{r.walConn, r.listConn, r.changesConn} {
		if c != nil {
			// Bounded: on a connection gone silent the goodbye may not get through.
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = c.Close(closeCtx)
			cancel()
		}
	}
	if r.ctl != nil {
		r.ctl.Close(context.Background())
	}
}

// stages runs the stages, each in its goroutines and joined by bounded channels, until the data
// directory and the WAL through the stop point are in the sink, or the first error:
//
//	lister + WAL scanner -> items -> count -> listed -> split -> requests [-> compare]
//	-> fetch -> fetched -> reorder -> ordered [-> WAL check] -> checksum -> checked -> sink
func (r *run) stages(ctx context.Context, sink sinks.Sink) error {
	b, tu := r.b, r.b.opts.Tuning
	items := make(chan pipeline.Item, tu.ItemQueue)
	listed := make(chan pipeline.Item, tu.ItemQueue)
	requests := make(chan *pipeline.Request, b.opts.Jobs*tu.RequestsPerJob)
	fetched := make(chan *pipeline.Request, b.opts.Jobs*tu.RequestsPerJob)
	ordered := make(chan *pipeline.Piece, tu.PieceQueue)
	checked := make(chan *pipeline.Piece, tu.PieceQueue)
	walCheck, err := r.walChecker()
	if err != nil {
		return err
	}

	g := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	quietControl := r.watchControl(g)
	r.sources(g, items, walCheck, quietControl)
	if r.changes != nil {
		all := items
		items = make(chan pipeline.Item, tu.ItemQueue)
		pipeline.Go(g, items, func(ctx context.Context) error { return r.changes.Run(ctx, all, items) })
	}
	splitter := &split.Splitter{RangeSize: b.opts.RangeSize, SmallFile: b.opts.RangeSize / tu.SmallFileShare,
		BatchFiles: tu.BatchFiles, Budget: r.budget}
	pipeline.Go(g, listed, func(ctx context.Context) error { return r.tally.count(ctx, items, listed) })
	pipeline.Go(g, requests, func(ctx context.Context) error { return splitter.Run(ctx, listed, requests) })
	toFetch := r.compare(g, requests)
	r.fetcher = r.fetchPool()
	pipeline.Go(g, fetched, func(ctx context.Context) error { return r.fetcher.Run(ctx, toFetch, fetched) })
	pipeline.Go(g, ordered, func(ctx context.Context) error { return reorder.Run(ctx, fetched, ordered) })
	toSum := ordered
	if walCheck != nil {
		toSum = make(chan *pipeline.Piece, tu.PieceQueue)
		pipeline.Go(g, toSum, func(ctx context.Context) error { return walCheck.Run(ctx, ordered, toSum) })
	}
	summer := verify.NewChecksummer(b.opts.Checksums, r.manifest)
	pipeline.Go(g, checked, func(ctx context.Context) error { return summer.Run(ctx, toSum, checked) })
	g.Go(func(ctx context.Context) error { return write(ctx, checked, sink, r.tally) })
	return g.Wait()
}

// watchControl keeps an eye on the control session while the copy runs, after weighing the WAL
// rate on it, and returns what stops the watch: it must not share the session with
// pg_backup_stop.
func (r *run) watchControl(g *pool.ContextPool) (quiet func()) {
	watchStop, watchDone := make(chan struct{}), make(chan struct{})
	g.Go(func(ctx context.Context) error {
		defer close(watchDone)
		return r.srv.watch(ctx, watchStop)
	})
	return func() {
		close(watchStop)
		<-watchDone
	}
}

// sources merges two streams into items: the data directory, whose end stops the backup, and
// the WAL scanner, which ends once it has sent the WAL through the stop point.
func (r *run) sources(g *pool.ContextPool, items chan pipeline.Item, walCheck *wal.Checker, quietControl func()) {
	stopped := make(chan wal.Stop, 1)
	pipeline.GoEach(g, items,
		func(ctx context.Context) error {
			if err := r.srv.list(ctx, items); err != nil {
				return err
			}
			var err error
			if r.stop, err = r.finishData(ctx, quietControl, items); err != nil {
				return err
			}
			if walCheck != nil {
				walCheck.SetStop(r.stop.LSN) // before the scanner can send the segment holding it
			}
			stopped <- wal.Stop{LSN: r.stop.LSN, WAL: r.stop.WAL}
			return nil
		},
		func(ctx context.Context) error { return r.srv.scanWAL(ctx, items, stopped) })
}

// compare puts a refresh's hashers between the splitter and the fetch workers: each range the
// copy holds goes to the server with its block hashes. Without a refresh the requests pass as they are.
func (r *run) compare(g *pool.ContextPool, requests <-chan *pipeline.Request) <-chan *pipeline.Request {
	if r.local == nil {
		return requests
	}
	tu := r.b.opts.Tuning
	hashed := make(chan *pipeline.Request, r.b.opts.Jobs*tu.RequestsPerJob)
	pipeline.GoAll(g, hashed, tu.HasherCount(), func(ctx context.Context) error {
		h := &delta.Hasher{Copy: r.local, Budget: r.budget, Compared: &r.tally.compared}
		return h.Run(ctx, requests, hashed)
	})
	return hashed
}

// fetchPool makes the fetch workers' pool: -j connections, or with -j auto as many as pay.
func (r *run) fetchPool() *fetch.Pool {
	b, tu := r.b, r.b.opts.Tuning
	newWorker := func() *fetch.Worker {
		w := &fetch.Worker{Connect: r.srv.connectFetch, Budget: r.budget, Limiter: r.limiter, Timeout: b.opts.IOTimeout,
			RetryFor: tu.FetchRetryFor, Backoff: tu.FetchBackoff, MaxBackoff: tu.FetchBackoffMax, Log: b.opts.Log, LogSQL: session.SQLPrinter(b.cfg),
			Received: &r.tally.received}
		if r.pages != nil {
			w.Pages = r.pages
		}
		if b.opts.ServerCompress {
			w.Reader = &fetch.Compressed{Codec: b.ServerCodec}
		}
		return w
	}
	p := &fetch.Pool{Jobs: b.opts.startJobs(), New: newWorker, Log: b.opts.Log}
	if !b.opts.AutoJobs {
		return p
	}
	rule := tu.AutoJobs
	rule.Max = b.opts.Jobs
	p.Auto, p.Window, p.Received = &rule, tu.AutoJobsWindow, &r.tally.received
	// A WAL re-read may open a connection after the jobs: it is counted as taken both in the
	// count before the lister and the WAL scanner opened and in each count a new worker takes.
	const reread = 1
	p.Free = b.free - 2 - reread - b.opts.changesConns() // the lister's, the WAL scanner's, a WAL re-read's, pass 1's
	p.FreeOn = func(ctx context.Context, conn fetch.Conn) (int, error) {
		free, err := session.FreeConnectionsOn(ctx, conn.(fetch.PgConn).PgConn)
		return free - reread, err
	}
	p.Grown = func(jobs int) { r.budget.Grow(b.opts.inFlightBytes(jobs) - r.budget.Granted()) }
	p.Decided = func(s fetch.Step) { r.tally.jobs.Store(s) }
	return p
}

// finish closes the sink with the manifest, once the stages are through, and reports the run.
func (r *run) finish(ctx context.Context, sink sinks.Sink, began time.Time) (Result, error) {
	b := r.b
	res := Result{Start: r.start.LSN, Stop: r.stop.LSN, Timeline: r.start.Timeline}
	if tli, ok := session.LabelStartTimeline(r.stop.Label); ok {
		res.Timeline = tli
	}
	var manifestBytes []byte
	if b.opts.Manifest {
		r.manifest.AddWALRange(res.Timeline, uint64(res.Start), uint64(res.Stop))
		manifestBytes = r.manifest.Bytes()
		res.ManifestChecksum = manifest.ChecksumOf(manifestBytes)
	}
	if err := sink.Close(ctx, manifestBytes); err != nil {
		return res, err
	}
	r.endProgress()
	r.tally.setPhase(PhaseDone)
	final := r.tally.snapshot()
	b.observe(final)
	res.Files, res.Bytes, res.WALSegments, res.WALBytes = final.Files, final.Bytes, final.WALSegments, final.WALBytes
	res.Duration = time.Since(began)
	if !final.Copying.IsZero() {
		res.Copying = time.Since(final.Copying)
	}
	res.Compared, res.Received = final.Compared, final.Received
	if r.copier != nil {
		res.Removed = r.copier.Removed()
	}
	if r.changes != nil {
		t := r.changes.Tally
		res.Changes = ChangesResult{Method: r.changesMethodRan(), BlocksExamined: t.Examined.Load(), BlocksSent: t.Sent.Load(),
			FilesWhole: t.Whole.Load(), FilesIncremental: t.Partial.Load()}
	}
	if b.opts.AutoJobs {
		choice := r.fetcher.Choice()
		res.Jobs, res.JobsWhy = choice.Jobs, choice.Why
		b.opts.Log("-j auto: memory budget peak %d of %d bytes granted, bound %d", r.budget.Peak(), r.budget.Granted(), r.budget.Total())
	}
	if r.pages != nil {
		res.PageFailures = r.pages.Failures()
	}
	return res, nil
}

// walChecker makes the WAL check stage, or nil when it is off.
func (r *run) walChecker() (*wal.Checker, error) {
	b := r.b
	if !b.opts.CheckWAL {
		return nil, nil
	}
	magic, ok := pgformat.WALPageMagic(b.Server.Major())
	if !ok {
		return nil, fmt.Errorf("pgpull does not know the WAL format of PostgreSQL %d; use --no-check-wal", b.Server.Major())
	}
	wr := pgformat.WALRange{Start: r.start.LSN, Timeline: r.start.Timeline, SegmentSize: b.Server.WALSegmentSize,
		Magic: magic, SystemID: b.Server.SystemID, BlockSize: b.Server.WALBlockSize}
	return wal.NewChecker(wr, r.srv.rereadWAL, b.opts.Log)
}

// InFlightBytes is how many bytes may be between the splitter and the sink (see Tuning), less
// the sink's own SinkBytes but at least one range. With -j auto it is the bound for the most
// jobs it may run; the budget grows to it as jobs are added.
func (o Options) InFlightBytes() int64 { return o.inFlightBytes(o.Jobs) }

func (o Options) inFlightBytes(jobs int) int64 {
	return max(o.Tuning.InFlightBytes(jobs, o.RangeSize)-o.SinkBytes, o.RangeSize)
}

// SinkShare is the share of the in-flight bytes a sink with buffers of its own (S3's parts)
// takes: Tuning's share of what the run starts with, so that it is fixed as -j auto grows.
func (o Options) SinkShare() int64 {
	return max(int64(float64(o.Tuning.InFlightBytes(o.startJobs(), o.RangeSize))*o.Tuning.SinkShare), o.Tuning.SinkShareMin)
}

// MemoryLimit is the soft memory limit (GOMEMLIMIT) for the run: the budget, the sink's own
// bytes and the headroom. With SinkBytes = SinkShare() it is the tar stream's (Tuning's), unless
// the budget is under SinkShareMin.
func (o Options) MemoryLimit() int64 {
	return o.InFlightBytes() + o.SinkBytes + o.Tuning.MemoryHeadroom
}

// finishData copies global/pg_control once every other data file has been read, as pg_basebackup
// does (a backup from a standby depends on it), stops the backup, and sends backup_label and,
// when asked for, tablespace_map.
func (r *run) finishData(ctx context.Context, quietControl func(), items chan<- pipeline.Item) (session.Stop, error) {
	b, t := r.b, r.tally
	var stop session.Stop
	barrier := make(chan struct{})
	if err := pipeline.Send(ctx, items, pipeline.Item{Barrier: barrier}); err != nil {
		return stop, err
	}
	select {
	case <-barrier:
	case <-ctx.Done():
		return stop, ctx.Err()
	}
	control, stop, err := r.controlAndStop(ctx, quietControl)
	if err != nil {
		return stop, err
	}
	t.setPhase(PhaseWAL)
	b.opts.Log("backup stopped at %s", stop.LSN)
	label, err := b.incrementalLabel(stop.Label)
	if err != nil {
		return stop, err
	}
	now := time.Now()
	closing := []*pipeline.File{
		{Path: "global/pg_control", Content: control, Size: pgformat.ControlFileSize, ModTime: now, Segment: -1},
		{Path: "backup_label", Content: []byte(label), Size: int64(len(label)), ModTime: now, Segment: -1},
	}
	if b.opts.TablespaceMap && stop.TablespaceMap != "" {
		closing = append(closing, &pipeline.File{Path: "tablespace_map", Content: []byte(stop.TablespaceMap),
			Size: int64(len(stop.TablespaceMap)), ModTime: now, Segment: -1})
	}
	for _, f := range closing {
		if err := pipeline.Send(ctx, items, pipeline.Item{File: f}); err != nil {
			return stop, err
		}
	}
	return stop, nil
}

// controlAndStop reads global/pg_control and stops the backup. A standby's pg_control must be
// read before the stop, as pg_basebackup does, for its minimum recovery point to come before the
// stop's; a primary's changes only at checkpoints, which may come at any time during the backup
// anyway, so there the read goes beside the stop, on the lister's connection, one round trip less.
func (r *run) controlAndStop(ctx context.Context, quietControl func()) (control []byte, stop session.Stop, err error) {
	if r.b.Server.InRecovery {
		if control, err = r.srv.controlFile(ctx); err != nil {
			return nil, stop, err
		}
		quietControl()
		r.tally.setPhase(PhaseStop)
		stop, err = r.srv.stopBackup(ctx)
		return control, stop, err
	}
	var readErr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		control, readErr = r.srv.controlFile(ctx)
	}()
	quietControl()
	r.tally.setPhase(PhaseStop)
	stop, err = r.srv.stopBackup(ctx)
	<-read
	if err == nil {
		err = readErr
	}
	return control, stop, err
}

// write is the last stage: it hands each Piece to the sink, which gives its bytes back.
func write(ctx context.Context, in <-chan *pipeline.Piece, sink sinks.Sink, t *tally) error {
	for {
		select {
		case p, ok := <-in:
			if !ok {
				return nil
			}
			if err := sink.Put(ctx, p); err != nil { // the sink gives p's bytes back, written or not
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
