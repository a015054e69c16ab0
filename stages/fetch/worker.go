// Package fetch is the fetch stage: -j workers, each on its own connection, read the Requests'
// bytes with pg_read_binary_file, or with pgpull's helper function when the server compresses.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/pipeline"
)

// Verifier checks the page checksums of a fetched Piece. reread reads one block again, for the
// second look PostgreSQL gives a page that fails.
type Verifier interface {
	Verify(p *pipeline.Piece, reread func(offset, length int64) ([]byte, error)) error
}

// Worker reads Requests on one connection. When the connection breaks or the server sends nothing
// for Timeout, it reconnects and reads the Request again, for RetryFor at most, waiting longer
// between attempts (retry.go).
type Worker struct {
	Connect func(ctx context.Context) (Conn, error)
	Budget  *pipeline.Budget
	Limiter *rate.Limiter // shared by all workers; nil for no limit
	Pages   Verifier      // nil when page checksums are not checked
	Timeout time.Duration // of silence from the server during a Request; 0 for none
	// RetryFor is how long a Request that failed is tried again before the worker gives up: the
	// whole time, whatever each attempt takes, so that a dead server ends the backup in Timeout +
	// RetryFor; 0 for no retry.
	RetryFor time.Duration
	// Backoff is the wait before the first retry; each next one waits twice as long, at most
	// MaxBackoff.
	Backoff, MaxBackoff time.Duration
	Log                 func(format string, args ...any)
	Reader              Reader       // nil reads with pg_read_binary_file
	LogSQL              func(string) // nil for none; gets each read with its parameters
	// Received counts the bytes of file data the server sent, shared by all workers; nil for none.
	Received *atomic.Int64

	conn Conn
	quit chan struct{} // closed when -j auto withdraws the worker; nil for one it never will
}

// withdraw tells the worker to stop after the Request it holds; only -j auto's added workers
// have a quit channel.
func (w *Worker) withdraw() { close(w.quit) }

// withdrawn reports whether the worker was told to stop.
func (w *Worker) withdrawn() bool {
	select {
	case <-w.quit:
		return true
	default:
		return false
	}
}

// exec runs one read, shown to LogSQL first.
func (w *Worker) exec(ctx context.Context, sql string, params [][]byte) Rows {
	if w.LogSQL != nil {
		var b strings.Builder
		b.WriteString(sql)
		for i, p := range params {
			fmt.Fprintf(&b, "%s $%d = %q", map[bool]string{true: " --", false: ","}[i == 0], i+1, p)
		}
		w.LogSQL(b.String())
	}
	return w.conn.Query(ctx, sql, params, nil, binary())
}

// Run reads Requests from in, fills them and sends them to out, until in closes or -j auto
// withdraws the worker.
func (w *Worker) Run(ctx context.Context, in <-chan *pipeline.Request, out chan<- *pipeline.Request) error {
	defer w.close()
	if w.Reader == nil {
		w.Reader = BinaryFile{}
	}
	return pipeline.EachUntil(ctx, w.quit, in, out, func(r *pipeline.Request) error { return w.fetchWithRetry(ctx, r) })
}

func (w *Worker) close() {
	if w.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = w.conn.Close(ctx)
		w.conn = nil
	}
}

func (w *Worker) fetch(ctx context.Context, r *pipeline.Request) error {
	if r.Bytes() == 0 {
		return nil
	}
	parent := ctx
	ctx, stall, stop := startStallTimer(ctx, w.Timeout)
	defer stop()
	err := w.fetchStalling(ctx, r, stall)
	if cause := context.Cause(ctx); err != nil && parent.Err() == nil && cause != nil && !errors.Is(err, cause) {
		// What the read was doing, without the cancellation that the cause explains.
		doing := strings.TrimSuffix(err.Error(), ": "+context.Canceled.Error())
		return fmt.Errorf("%w (%s)", cause, doing)
	}
	return err
}

func (w *Worker) fetchStalling(ctx context.Context, r *pipeline.Request, stall *stallTimer) error {
	if w.conn == nil {
		conn, err := w.Connect(ctx)
		if err != nil {
			return err
		}
		w.conn = conn
	}
	whole, compared := splitCompared(r.Pieces)
	whole, incremental := splitIncremental(whole)
	var err error
	if len(whole) == 1 && whole[0].Length > RowSize {
		err = w.readRange(ctx, whole[0], stall)
	} else if len(whole) > 0 {
		err = w.readBatch(ctx, whole, stall)
	}
	if err == nil && len(incremental) > 0 {
		err = w.readIncremental(ctx, incremental, stall)
	}
	compared, listed := splitListed(compared)
	if err == nil && len(compared) > 0 {
		err = w.compare(ctx, compared, stall)
	}
	if err == nil && len(listed) > 0 {
		err = w.readListed(ctx, listed, stall)
	}
	if err != nil {
		return err
	}
	for _, p := range r.Pieces {
		if p.Missing && p.File.Required {
			return fatalError{fmt.Errorf("%s was removed from the server before pgpull could copy it; %s", p.File.Path, session.KeepWAL)}
		}
		if w.Pages != nil && p.File.Segment >= 0 && !p.Missing {
			if err := w.Pages.Verify(p, func(off, n int64) ([]byte, error) { return w.reread(ctx, p.File, off, n) }); err != nil {
				return err
			}
		}
	}
	return nil
}
