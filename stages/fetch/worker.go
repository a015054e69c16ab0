// Package fetch is the fetch stage: -j workers, each on its own connection, read the Requests'
// bytes with pg_read_binary_file, or with pgpull's helper function when the server compresses.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
// for Timeout, it
// reconnects and reads the Request again, up to Retries times, waiting longer each time.
type Worker struct {
	Connect func(ctx context.Context) (Conn, error)
	Budget  *pipeline.Budget
	Limiter *rate.Limiter // shared by all workers; nil for no limit
	Pages   Verifier      // nil when page checksums are not checked
	Timeout time.Duration // of silence from the server during a Request; 0 for none
	Retries int
	Backoff time.Duration
	Log     func(format string, args ...any)
	Reader  Reader       // nil reads with pg_read_binary_file
	LogSQL  func(string) // nil for none; gets each read with its parameters
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

func (w *Worker) fetchWithRetry(ctx context.Context, r *pipeline.Request) error {
	backoff := w.Backoff
	for attempt := 0; ; attempt++ {
		err := w.fetch(ctx, r)
		if err == nil || ctx.Err() != nil {
			return err
		}
		var fatal fatalError
		if errors.As(err, &fatal) || attempt >= w.Retries {
			return err
		}
		w.Log("fetch failed, reconnecting (attempt %d of %d): %v", attempt+1, w.Retries, err)
		w.close()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff *= 2
	}
}

// fatalError is a failure that reading again cannot mend.
type fatalError struct{ error }

func (w *Worker) fetch(ctx context.Context, r *pipeline.Request) error {
	if r.Bytes() == 0 {
		return nil
	}
	parent := ctx
	ctx, stall, stop := startStallTimer(ctx, w.Timeout)
	defer stop()
	err := w.fetchStalling(ctx, r, stall)
	if err != nil && parent.Err() == nil && context.Cause(ctx) != nil {
		return fmt.Errorf("%v: %w", context.Cause(ctx), err)
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
	var err error
	if len(whole) == 1 && whole[0].Length > RowSize {
		err = w.readRange(ctx, whole[0], stall)
	} else if len(whole) > 0 {
		err = w.readBatch(ctx, whole, stall)
	}
	if err == nil && len(compared) > 0 {
		err = w.compare(ctx, compared, stall)
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

// readRange reads one Piece as rows of the Reader's RowSize: a range of a large file, or a small
// file whose name cannot go in a batch.
func (w *Worker) readRange(ctx context.Context, p *pipeline.Piece, stall *stallTimer) error {
	if p.File.Source == "" || p.Length == 0 {
		return nil
	}
	row, end := w.Reader.RowSize(), p.File.ReadEnd(p.Offset+p.Length)
	// Past ReadTo the Piece is zeros, which a new buffer already holds and a reused one would
	// have to be cleared for: 16 MB, most of the backup's last WAL segment, cleared a second time.
	zeroed := end < p.Offset+p.Length
	if zeroed {
		p.Data = make([]byte, 0, p.Length)
	} else {
		p.Data = w.Budget.Buffer(p.Length)[:0]
	}
	p.Missing = false
	r := w.Reader
	if !validName(p.File.Source) {
		r = BinaryFile{} // the helper takes its path as text; names that are not are rare
		row = r.RowSize()
	}
	if end <= p.Offset {
		pad(p, zeroed)
		return nil
	}
	sql, params := r.RangeQuery(p.File, p.Offset, end)
	rows := w.exec(ctx, sql, params)
	for at := p.Offset; rows.Next(); at += row {
		v := rows.Values()[0]
		if v == nil && at == p.Offset {
			p.Missing = true
		}
		var err error
		if p.Data, err = r.Append(p.Data, v, min(row, end-at)); err != nil {
			rows.Close()
			return fatalError{fmt.Errorf("reading %s at %d: %w", p.File.Path, at, err)}
		}
		if err := w.wait(ctx, len(v), stall); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("reading %s at %d: %w", p.File.Path, p.Offset, err)
	}
	pad(p, zeroed)
	return nil
}

// readBatch reads several small Pieces in one query, one row each.
func (w *Worker) readBatch(ctx context.Context, pieces []*pipeline.Piece, stall *stallTimer) error {
	arrays := newTextArrays(3) // paths, offsets, sizes
	var todo, raw []*pipeline.Piece
	for _, p := range pieces {
		if p.File.Source == "" || p.Length == 0 {
			continue
		}
		if !validName(p.File.Source) || p.File.ReadEnd(p.Offset+p.Length) < p.Offset+p.Length {
			raw = append(raw, p) // readRange reads it, to where the server's bytes end
			continue
		}
		arrays.add(arrayElement(p.File.Source), strconv.FormatInt(p.Offset, 10), strconv.FormatInt(p.Length, 10))
		todo = append(todo, p)
	}
	for _, p := range raw {
		if err := w.readRange(ctx, p, stall); err != nil {
			return err
		}
	}
	if len(todo) == 0 {
		return nil
	}
	params := arrays.params()
	rows := w.exec(ctx, w.Reader.BatchSQL(), params)
	i := 0
	for rows.Next() {
		if i >= len(todo) {
			break
		}
		p := todo[i]
		v := rows.Values()[0]
		p.Missing = v == nil
		var err error
		if p.Data, err = w.Reader.Append(w.Budget.Buffer(p.Length)[:0], v, p.Length); err != nil {
			rows.Close()
			return fatalError{fmt.Errorf("reading %s: %w", p.File.Path, err)}
		}
		pad(p, false)
		i++
		if err := w.wait(ctx, len(v), stall); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("reading %d files from %s: %w", len(todo), todo[0].File.Path, err)
	}
	if i != len(todo) {
		return fmt.Errorf("server returned %d of %d files", i, len(todo))
	}
	return nil
}

// reread reads one stretch of a file again, for page verification.
func (w *Worker) reread(ctx context.Context, f *pipeline.File, off, n int64) ([]byte, error) {
	sql, params := rangeQuery(f, off, n, off+n)
	page, err := readFirst(w.exec(ctx, sql, params))
	if err != nil {
		return nil, fmt.Errorf("reading %s at %d again: %w", f.Path, off, err)
	}
	return page, nil
}

func (w *Worker) wait(ctx context.Context, n int, stall *stallTimer) error {
	if w.Received != nil {
		w.Received.Add(int64(n))
	}
	if w.Limiter == nil || n == 0 {
		stall.progress()
		return nil
	}
	stall.pause()
	defer stall.progress()
	// WaitN refuses more than the burst at once, and a row may be larger (a whole small file in a
	// batch): pay for it in parts.
	for burst := w.Limiter.Burst(); n > 0; n -= burst {
		if err := w.Limiter.WaitN(ctx, min(n, burst)); err != nil {
			return err
		}
	}
	return nil
}

// pad brings a Piece to its listed length. A file that shrank during the copy is filled with
// zeros to the size its tar header already declared, as pg_basebackup does; WAL replay rewrites
// those blocks. A WAL segment padded so is no WAL: the WAL check finds the zeros and reads the
// segment again. zeroed says the buffer beyond the bytes read is known to hold zeros.
func pad(p *pipeline.Piece, zeroed bool) {
	n := len(p.Data)
	if int64(n) >= p.Length {
		p.Data = p.Data[:p.Length]
		return
	}
	if int64(cap(p.Data)) >= p.Length {
		p.Data = p.Data[:p.Length]
		if !zeroed {
			clear(p.Data[n:])
		}
		return
	}
	p.Data = append(p.Data, make([]byte, p.Length-int64(n))...)
}

func itoa(n int64) []byte { return strconv.AppendInt(nil, n, 10) }

// textArrays builds the text forms of parallel array parameters, one element of each at a time.
type textArrays []strings.Builder

func newTextArrays(n int) textArrays { return make(textArrays, n) }

// add appends one element to each array; elems are already in array-literal form.
func (a textArrays) add(elems ...string) {
	for i, e := range elems {
		if a[i].Len() > 0 {
			a[i].WriteByte(',')
		}
		a[i].WriteString(e)
	}
}

// params is the arrays as parameter values.
func (a textArrays) params() [][]byte {
	out := make([][]byte, len(a))
	for i := range a {
		out[i] = []byte("{" + a[i].String() + "}")
	}
	return out
}

// arrayElement quotes s as an element of a PostgreSQL array literal. File names come from the
// server and may hold any byte, so every element is quoted.
func arrayElement(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
