package backup

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/pipeline"
	"github.com/pgpull/pgpull/stages/fetch"
	"github.com/pgpull/pgpull/stages/list"
	"github.com/pgpull/pgpull/stages/wal"
)

// server is what the stages ask of the server once the backup has started: pgSessions over the
// run's connections, or the unit tests' fake, which lets the stages' wiring run without a cluster.
type server interface {
	// list sends the data directory's entries and tablespaces.
	list(ctx context.Context, out chan<- pipeline.Item) error
	// scanWAL sends each WAL segment as it is finished, through the one holding the LSN stop
	// gives once the backup has stopped.
	scanWAL(ctx context.Context, out chan<- pipeline.Item, stop <-chan wal.Stop) error
	// controlFile reads global/pg_control, after every other data file, and releases the
	// lister's session.
	controlFile(ctx context.Context) ([]byte, error)
	// watch keeps an eye on the control session until stop closes.
	watch(ctx context.Context, stop <-chan struct{}) error
	// stopBackup stops the backup on the server.
	stopBackup(ctx context.Context) (session.Stop, error)
	// connectFetch opens a fetch worker's connection.
	connectFetch(ctx context.Context) (fetch.Conn, error)
	// rereadWAL reads a WAL file whole again, for the WAL check's second look.
	rereadWAL(ctx context.Context, f *pipeline.File) ([]byte, error)
}

// pgSessions is the server over the run's sessions: the control session, the lister's and the
// WAL scanner's connections, and one per fetch worker.
type pgSessions struct {
	r *run
}

func (s pgSessions) list(ctx context.Context, out chan<- pipeline.Item) error {
	b := s.r.b
	l := &list.Lister{Conn: s.r.listConn, Server: b.Server, Tablespaces: b.Tablespaces, CheckPages: s.r.pages != nil}
	return l.Run(ctx, out)
}

func (s pgSessions) scanWAL(ctx context.Context, out chan<- pipeline.Item, stop <-chan wal.Stop) error {
	b, start := s.r.b, s.r.start
	scanner := &wal.Scanner{Conn: s.r.walConn, SegmentSize: b.Server.WALSegmentSize, BlockSize: int64(b.Server.WALBlockSize),
		Start: start.LSN, Timeline: start.Timeline, Standby: b.Server.InRecovery, Interval: b.opts.WALInterval, Stop: stop, Log: b.opts.Log, Timeout: b.opts.IOTimeout}
	return scanner.Run(ctx, out)
}

func (s pgSessions) controlFile(ctx context.Context) ([]byte, error) {
	control, err := session.ReadPgControl(ctx, s.r.listConn)
	if err != nil {
		return nil, err
	}
	// Its work is done: the server gets the connection back before pg_backup_stop.
	_ = s.r.listConn.Close(ctx)
	s.r.listConn = nil
	return control, nil
}

func (s pgSessions) watch(ctx context.Context, stop <-chan struct{}) error {
	if err := s.r.weighWALRate(ctx, stop); err != nil {
		return err
	}
	return s.r.ctl.Watch(ctx, s.r.b.opts.Tuning.ControlPing, stop)
}

func (s pgSessions) stopBackup(ctx context.Context) (session.Stop, error) { return s.r.ctl.End(ctx) }

func (s pgSessions) connectFetch(ctx context.Context) (fetch.Conn, error) {
	if conn := s.r.fetchConns.take(ctx); conn != nil {
		return fetch.PgConn{PgConn: conn}, nil
	}
	conn, err := session.ConnectRaw(ctx, s.r.b.cfg, "pgpull fetch")
	if err != nil {
		return nil, err
	}
	fetch.Warm(ctx, conn, s.r.b.ServerCodec)
	return fetch.PgConn{PgConn: conn}, nil
}

// rereadWAL reads a whole WAL file again, on a connection of its own: a second look is rare, and
// every other connection is busy.
func (s pgSessions) rereadWAL(ctx context.Context, f *pipeline.File) ([]byte, error) {
	conn, err := session.Connect(ctx, s.r.b.cfg, "pgpull wal check")
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	data, _, err := session.ReadFile(ctx, conn, f.Source, f.ReadEnd(f.Size), true)
	if err != nil {
		return nil, fmt.Errorf("%w, a second time", err)
	}
	return data, nil
}

// openedConns are the fetch connections begin starts opening while the backup starts, so that
// the first Requests find their workers connected: each worker's first connection is one of
// them. Nothing waits for them but the worker that takes one: through a link, opening and warming
// one (fetch.Warm) costs three round trips, one more than pg_backup_start and the listing's first
// rows, which need not wait for them.
type openedConns struct {
	ready chan *pgconn.PgConn // each open's connection as it comes, nil for one that failed

	mu       sync.Mutex
	promised int // opens started and not yet handed to a worker
	started  int
	received int // connections (or nils) taken off ready
}

// start opens n in the background, warmed for reads with helperCodec ("" for plain reads).
func (o *openedConns) start(ctx context.Context, cfg *pgx.ConnConfig, n int, helperCodec string) {
	o.ready = make(chan *pgconn.PgConn, n)
	o.promised, o.started = n, n
	for range n {
		go func() {
			conn, err := session.ConnectRaw(ctx, cfg, "pgpull fetch")
			if err != nil {
				o.ready <- nil // left to the worker, whose own attempt says why
				return
			}
			fetch.Warm(ctx, conn, helperCodec)
			o.ready <- conn
		}()
	}
}

// take hands out the next connection to open, waiting for it; nil when none is left to hand out,
// when the one it waited for failed to open, or when ctx ends first.
func (o *openedConns) take(ctx context.Context) *pgconn.PgConn {
	o.mu.Lock()
	if o.promised == 0 {
		o.mu.Unlock()
		return nil
	}
	o.promised--
	o.mu.Unlock()
	select {
	case conn := <-o.ready:
		o.mu.Lock()
		o.received++
		o.mu.Unlock()
		return conn
	case <-ctx.Done():
		return nil // close waits for it
	}
}

// close waits for the opens still under way and closes every connection no worker took.
func (o *openedConns) close() {
	o.mu.Lock()
	left := o.started - o.received
	o.promised, o.received = 0, o.started
	o.mu.Unlock()
	for range left {
		conn := <-o.ready
		if conn == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.Close(ctx)
		cancel()
	}
}
