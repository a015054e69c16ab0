// Package backup wires pgpull's stages into one backup run: it opens the connections, starts the
// backup on the server, runs list -> split -> fetch -> reorder -> verify -> sink with the WAL
// scanner beside the listing, and stops the backup.
package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/session"
)

// Options are a backup run's settings; the command line fills them.
type Options struct {
	// Jobs is the number of fetch connections; with AutoJobs the most that may run, from
	// Tuning.AutoJobs.Start up while the throughput rises (-j auto).
	Jobs        int
	AutoJobs    bool
	Fast        bool // an immediate checkpoint at start, rather than a spread one
	Label       string
	RangeSize   int64
	WALInterval time.Duration
	MaxRate     int64         // bytes per second for all jobs together; 0 for no limit
	IOTimeout   time.Duration // silence from the server after which a fetch reconnects; 0 for none
	Manifest    bool
	Checksums   manifest.Algorithm
	VerifyPages bool
	// ServerCompress reads through pgpull's helper function, which compresses on the server.
	ServerCompress bool
	// ServerCompressAuto has Connect decide ServerCompress from a probe of the link and the data
	// (Tuning.ServerCompress).
	ServerCompressAuto bool
	// FarJobs, when above Jobs, is how many fetch connections to open instead when the server
	// turns out to be far (Tuning.FarRoundTrip): the default -j, which the user did not set.
	FarJobs int
	// ServerCodec is the codec the helper must compress with ("zstd", "lz4" or "zlib"); "" lets
	// pgpull choose: the smallest output, or with ServerCompressAuto the probe's pick.
	ServerCodec string
	// CheckWAL reads the WAL's records as they pass, and fails the backup on WAL that would not
	// take recovery to the stop LSN.
	CheckWAL bool
	// RequireSlot refuses to start a backup that no replication slot would hold WAL for.
	RequireSlot bool
	// Refresh compares each range with the sink's own copy (sinks.LocalCopier) and moves only
	// the blocks that differ.
	Refresh bool
	// Incremental, when set, takes an incremental backup on a prior one.
	Incremental *Incremental
	// RefreshFrom, in a refresh, is the copy being refreshed as a prior backup, when its start can
	// be trusted: only the blocks changed since are read over it. nil compares every block's hash.
	RefreshFrom *Incremental
	// TablespaceMap puts tablespace_map in the backup: only for -F tar, where tablespaces travel
	// in archives of their own.
	TablespaceMap bool
	// SinkBytes is how much of the in-flight bytes the sink's own buffers take (SinkShare for an
	// S3 sink's parts); the pipeline's budget is the rest.
	SinkBytes int64
	// Tuning holds the bounds on memory and concurrency; DefaultTuning when zero.
	Tuning Tuning
	Log    func(format string, args ...any)
	// WALRisk, when set, gets the WAL risk of a run no slot protects, once its WAL rate is
	// measured on the control session about a second after Connect, while the backup starts and
	// copies; it is not called when the copy ends first.
	WALRisk func(noSlot string, r session.WALRisk)
	// Observe, when set, gets the run's Progress at each phase change and about every second,
	// always from one goroutine.
	Observe func(Progress)
}

// Backup is a connected backup run: the server is known, nothing has started yet.
type Backup struct {
	cfg         *pgx.ConnConfig
	opts        Options
	Server      session.Server
	Tablespaces []session.Tablespace
	// NoSlot says why no replication slot will hold WAL during the run, "" when one will; the
	// WAL risk is then measured, for Options.WALRisk to warn when the copy may outlast the WAL
	// it needs: walRisk is known at Connect but its rate, from walSample on, only once the run
	// has begun.
	NoSlot    string
	walRisk   session.WALRisk
	walSample *session.WALSample
	// ServerCodec is the codec --server-compress's helper uses on this server ("zstd", "lz4" or
	// "zlib"); "" without --server-compress.
	ServerCodec string
	// ServerCompressWhy, with Options.ServerCompressAuto, says what the probe found and why it
	// turned compression on or left it off; "" without it.
	ServerCompressWhy string
	conn              *pgx.Conn // the control session's connection, until Run hands it over
	free              int       // connections the server could still accept when inspected
}

// startJobs is how many fetch connections the run opens at the start.
func (o Options) startJobs() int {
	if o.AutoJobs {
		return min(o.Tuning.AutoJobs.Start, o.Jobs)
	}
	return o.Jobs
}

// changesConns is the connections an incremental backup's pass 1 takes.
func (o Options) changesConns() int {
	if o.changesPrior() != nil {
		return 1
	}
	return 0
}

// AssumedCopyRate is the copy's bytes per second the WAL risk is weighed with when -r sets none.
const AssumedCopyRate = 100e6

// Connect opens the control connection and learns what the run needs to know before it starts:
// the server's version and settings, its tablespaces, and whether it can serve -j connections.
func Connect(ctx context.Context, cfg *pgx.ConnConfig, opts Options) (*Backup, error) {
	if opts.Tuning == (Tuning{}) {
		opts.Tuning = DefaultTuning()
	}
	b := &Backup{cfg: cfg, opts: opts}
	conn, err := session.ConnectUnprepared(ctx, b.cfg, "pgpull control")
	if err != nil {
		return nil, err
	}
	b.conn = conn
	// Every other session goes where the control session went, the way it went.
	b.cfg = session.Pin(ctx, cfg, conn.PgConn())
	if err := b.inspect(ctx); err != nil {
		_ = conn.Close(context.Background())
		return nil, err
	}
	return b, nil
}

func (b *Backup) inspect(ctx context.Context) error {
	p, err := session.Inspect(ctx, b.conn, b.opts.ServerCompress && !b.opts.ServerCompressAuto)
	if err != nil {
		return err
	}
	b.Server, b.Tablespaces, b.free, b.NoSlot = p.Server, p.Tablespaces, p.Free, p.NoSlot
	b.goFar(p.RoundTrip)
	if err := b.checkPrior(); err != nil {
		return err
	}
	switch {
	case b.opts.ServerCompressAuto:
		if err := b.chooseServerCompress(ctx); err != nil {
			return err
		}
	case b.opts.ServerCompress:
		if b.ServerCodec, err = session.PickCodec(p.HelperCodecs, b.opts.ServerCodec); err != nil {
			return err
		}
		b.opts.Log("--server-compress: the server's helper compresses with %s (it has %s)", b.ServerCodec, strings.Join(p.HelperCodecs, ", "))
	}
	// The control session, the lister and the WAL scanner each hold one connection besides the
	// jobs, and an incremental backup's pass 1 one more.
	need := b.opts.startJobs() + 2 + b.opts.changesConns()
	if b.opts.AutoJobs && b.free < need {
		return fmt.Errorf("the server has %d free connections and -j auto needs at least %d more; raise max_connections",
			b.free, need)
	}
	if b.free < need {
		return fmt.Errorf("the server has %d free connections and -j %d needs %d more; lower -j or raise max_connections",
			b.free, b.opts.Jobs, need)
	}
	return b.weighWALRisk(ctx)
}

// weighWALRisk, when no slot will hold WAL, refuses to go on without one when asked to, and
// otherwise measures how the WAL written during the copy compares with what the server keeps.
func (b *Backup) weighWALRisk(ctx context.Context) error {
	if b.NoSlot == "" {
		return nil
	}
	if b.opts.RequireSlot {
		return fmt.Errorf("--require-slot: no replication slot can hold WAL for this backup: %s; "+
			"give the role REPLICATION (see pgpull grants), free a slot, or back up the primary", b.NoSlot)
	}
	rate := float64(b.opts.MaxRate)
	if rate == 0 {
		rate = AssumedCopyRate
	}
	var sample session.WALSample
	var err error
	if b.walRisk, sample, err = session.MeasureWALRisk(ctx, b.conn, b.Server, rate); err != nil {
		return err
	}
	b.walSample = &sample
	return nil
}

// Close releases the control connection of a Backup that never ran.
func (b *Backup) Close() {
	if b.conn != nil {
		_ = b.conn.Close(context.Background())
		b.conn = nil
	}
}

// goFar opens FarJobs fetch connections instead of Jobs when the preflight's round trip says the
// server is far: there each connection's throughput is capped by the path (a TCP window over a
// long round trip, a shaper per flow), and more connections carry more. On the bench's 20 ms each
// way, 200 Mbit per connection link, pgbench scale 20 took 2.82 s at -j 8 and 4.60 s at -j 4
// (bench/RESULTS.md, 2026-12-07). A server on this machine behind a tunnel or proxy on a loopback
// address is far too, though its address looks near.
func (b *Backup) goFar(roundTrip time.Duration) {
	o := &b.opts
	if o.FarJobs <= o.Jobs || o.AutoJobs || roundTrip < o.Tuning.FarRoundTrip {
		return
	}
	ms := float64(roundTrip.Microseconds()) / 1000
	if need := o.FarJobs + 2 + o.changesConns(); b.free < need {
		o.Log("-j %d: the server is %.0f ms away, where %d connections would carry more, but it has %d free connections", o.Jobs, ms, o.FarJobs, b.free)
		return
	}
	o.Log("-j %d: the server is %.0f ms away (a round trip), where more connections carry more (-j N sets another count)", o.FarJobs, ms)
	o.Jobs = o.FarJobs
}

// MemoryLimit is Options.MemoryLimit for the jobs the backup runs with, which Connect settles.
func (b *Backup) MemoryLimit() int64 { return b.opts.MemoryLimit() }
