package fetch

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/pgpull/pgpull/pipeline"
)

// TestMain fails the package's tests if any goroutine outlives them: a worker that returns must
// leave nothing running, whether it finished, failed or was cancelled.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeServer answers the workers' queries from files held in memory, as pg_read_binary_file
// would, and breaks or stalls the read of a given row, counted over every connection.
type fakeServer struct {
	files map[string][]byte

	mu       sync.Mutex
	rows     int           // rows read so far, over all connections
	breakAt  map[int]bool  // rows whose read breaks the connection
	stallAt  int           // the row whose read waits until its query's context ends; 0 for none
	stallAll bool          // every read waits so, as through a link gone silent
	refuse   bool          // every connection fails
	stalled  chan struct{} // closed when a read first stalls
	once     sync.Once
	opened   int
	closed   int
}

func newFakeServer(files map[string][]byte) *fakeServer {
	return &fakeServer{files: files, breakAt: map[int]bool{}, stalled: make(chan struct{})}
}

func (s *fakeServer) connect(context.Context) (Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse {
		return nil, errors.New("cannot connect to 10.0.0.1:5432: connection refused")
	}
	s.opened++
	return &fakeConn{s: s}, nil
}

// counts reports the connections opened and closed.
func (s *fakeServer) counts() (opened, closed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened, s.closed
}

type fakeConn struct {
	s      *fakeServer
	closed bool
}

func (c *fakeConn) Close(context.Context) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.s.closed++
	}
	return nil
}

// Query builds the rows the server would send: for a range read (path, offset, row size, end),
// one row per row size; for a batch (arrays of paths, offsets and lengths), one row per file.
// A missing file gives NULL rows.
func (c *fakeConn) Query(ctx context.Context, sql string, params [][]byte, _, _ []int16) Rows {
	var values [][]byte
	read := func(path string, off, n int64) []byte {
		data, ok := c.s.files[path]
		if !ok {
			return nil
		}
		return append([]byte{}, data[min(off, int64(len(data))):min(off+n, int64(len(data)))]...)
	}
	if sql == batchSQL {
		paths, offs, lens := textArray(params[0]), textArray(params[1]), textArray(params[2])
		for i := range paths {
			values = append(values, read(paths[i], atoi(offs[i]), atoi(lens[i])))
		}
	} else {
		path, off, step, end := string(params[0]), atoi(string(params[1])), atoi(string(params[2])), atoi(string(params[3]))
		for o := off; o < end; o += step {
			values = append(values, read(path, o, min(step, end-o)))
		}
	}
	return &fakeRows{ctx: ctx, s: c.s, values: values, at: -1}
}

type fakeRows struct {
	ctx    context.Context
	s      *fakeServer
	values [][]byte
	at     int
	err    error
}

func (r *fakeRows) Next() bool {
	if r.err != nil || r.at+1 >= len(r.values) {
		return false
	}
	r.s.mu.Lock()
	r.s.rows++
	n := r.s.rows
	broken, stall := r.s.breakAt[n], n == r.s.stallAt || r.s.stallAll
	r.s.mu.Unlock()
	switch {
	case broken:
		r.err = errors.New("unexpected EOF")
		return false
	case stall:
		r.s.once.Do(func() { close(r.s.stalled) })
		<-r.ctx.Done()
		r.err = r.ctx.Err()
		return false
	}
	r.at++
	return true
}

func (r *fakeRows) Values() [][]byte { return [][]byte{r.values[r.at]} }
func (r *fakeRows) Close() error     { return r.err }

// textArray reads the array literals the worker sends: {"a","b"} or {1,2}.
func textArray(b []byte) []string {
	var out []string
	for _, e := range strings.Split(strings.Trim(string(b), "{}"), ",") {
		out = append(out, strings.Trim(e, `"`))
	}
	return out
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// testFile is a file of n bytes that differ from row to row.
func testFile(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i / 1000)
	}
	return b
}

// rangeRequest asks for all of path, listed at size, as one range.
func rangeRequest(path string, size int64) *pipeline.Request {
	f := &pipeline.File{Path: path, Source: path, Size: size, Segment: -1}
	return &pipeline.Request{Pieces: []*pipeline.Piece{{File: f, Length: size}}}
}

// runWorker runs a worker on the requests until they are all through or it fails, and returns
// what it sent on.
func runWorker(ctx context.Context, w *Worker, reqs ...*pipeline.Request) ([]*pipeline.Request, error) {
	in := make(chan *pipeline.Request, len(reqs))
	out := make(chan *pipeline.Request, len(reqs))
	for _, r := range reqs {
		in <- r
	}
	close(in)
	err := w.Run(ctx, in, out)
	close(out)
	var done []*pipeline.Request
	for r := range out {
		done = append(done, r)
	}
	return done, err
}

// newTestWorker makes a worker on s that retries for retryFor, waiting 1 s, 2 s, then 4 s between
// attempts.
func newTestWorker(s *fakeServer, retryFor time.Duration) (*Worker, *[]string) {
	var logged []string
	return &Worker{Connect: s.connect, Budget: pipeline.NewBudget(64<<20, 4<<20), RetryFor: retryFor,
		Backoff: time.Second, MaxBackoff: 4 * time.Second, Log: func(format string, args ...any) { logged = append(logged, format) }}, &logged
}

func TestWorkerReads(t *testing.T) {
	big := testFile(3*RowSize + 1000)
	small := testFile(5000)
	s := newFakeServer(map[string][]byte{"base/1/big": big, "base/1/small": small})
	w, _ := newTestWorker(s, 0)
	batchFile := func(path string, size int64) *pipeline.Piece {
		return &pipeline.Piece{File: &pipeline.File{Path: path, Source: path, Size: size, Segment: -1}, Length: size}
	}
	batch := &pipeline.Request{Pieces: []*pipeline.Piece{batchFile("base/1/small", 5000), batchFile("base/1/gone", 300),
		batchFile("base/1/grown", 0)}}
	shrunk := rangeRequest("base/1/small", 2*RowSize) // listed larger than it now is
	// The backup's last WAL segment, read only through the page holding the stop LSN: the server's
	// later bytes (not zero in big) must not come into it.
	walEnd := rangeRequest("base/1/big", int64(len(big)))
	walEnd.Pieces[0].File.ReadTo = RowSize + 8192
	walEndSmall := &pipeline.Request{Pieces: []*pipeline.Piece{batchFile("base/1/small", 5000)}}
	walEndSmall.Pieces[0].File.ReadTo = 2000
	done, err := runWorker(context.Background(), w, rangeRequest("base/1/big", int64(len(big))), batch, shrunk, walEnd, walEndSmall)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 5 {
		t.Fatalf("%d requests sent on, want 5", len(done))
	}
	// Past ReadTo the Piece is zeros that Data leaves out (pipeline.Piece.Data).
	readTo := func(data []byte, n int) []byte { return bytes.Clone(data[:n]) }
	tests := []struct {
		name    string
		p       *pipeline.Piece
		want    []byte
		missing bool
	}{
		{"range of 4 rows", done[0].Pieces[0], big, false},
		{"batched file", done[1].Pieces[0], small, false},
		{"batched file gone from the server: zeros", done[1].Pieces[1], make([]byte, 300), true},
		{"file listed empty", done[1].Pieces[2], nil, false},
		{"file shrunk since listed: padded with zeros", done[2].Pieces[0], append(bytes.Clone(small), make([]byte, 2*RowSize-5000)...), false},
		{"range read to ReadTo, the rest left out", done[3].Pieces[0], readTo(big, RowSize+8192), false},
		{"small file read to ReadTo, the rest left out", done[4].Pieces[0], readTo(small, 2000), false},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.p.Data, tt.want) || tt.p.Missing != tt.missing {
			t.Errorf("%s: %d bytes (missing %v), want %d (missing %v)", tt.name, len(tt.p.Data), tt.p.Missing, len(tt.want), tt.missing)
		}
	}
	if opened, closed := s.counts(); opened != 1 || closed != 1 {
		t.Errorf("%d connections opened and %d closed, want 1 and 1", opened, closed)
	}
}

// TestWorkerRetries breaks or stalls the connection and checks that the worker reads the whole
// request again on a new connection, or gives up once RetryFor (10 s) has passed since the first
// failure, however long each attempt waits. It runs in a synctest bubble: the waits pass on a
// fake clock, exactly.
func TestWorkerRetries(t *testing.T) {
	data := testFile(4 * RowSize)
	always := make([]int, 100)
	for i := range always {
		always[i] = i + 1
	}
	tests := []struct {
		name     string
		breakAt  []int // row reads that break, counted over all connections
		stall    bool  // every read stalls, with a 3 s Timeout
		refuse   bool  // every connection fails
		retryFor time.Duration
		wantErr  []string // what the error names; nil for none
		opened   int
		took     time.Duration // on the fake clock
	}{
		{name: "unbroken", retryFor: 10 * time.Second, opened: 1},
		{name: "broken at row 3, read again", breakAt: []int{3}, retryFor: 10 * time.Second, opened: 2, took: time.Second},
		{name: "broken twice", breakAt: []int{3, 5}, retryFor: 10 * time.Second, opened: 3, took: 3 * time.Second},
		// Attempts at 0, 1, 3 and 7 s; the wait after the fourth ends at 11, past the 10 s.
		{name: "always broken: gives up at RetryFor", breakAt: always, retryFor: 10 * time.Second, opened: 4, took: 10 * time.Second,
			wantErr: []string{"unexpected EOF", "3 reconnects over 10 s brought no data"}},
		{name: "no retries", breakAt: []int{2}, opened: 1, wantErr: []string{"unexpected EOF"}},
		// Stalls end at 3, 7 (3+1+3) and 12 (7+2+3); the retries' 10 s, from 3, end at 13.
		{name: "silent server: gives up at Timeout + RetryFor", stall: true, retryFor: 10 * time.Second, opened: 3, took: 13 * time.Second,
			wantErr: []string{"no data from the server for 3 s", "2 reconnects over 10 s brought no data"}},
		{name: "unreachable server: gives up at RetryFor", refuse: true, retryFor: 10 * time.Second, opened: 0, took: 10 * time.Second,
			wantErr: []string{"connection refused", "3 reconnects over 10 s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newFakeServer(map[string][]byte{"base/1/f": data})
				for _, n := range tt.breakAt {
					s.breakAt[n] = true
				}
				s.stallAll, s.refuse = tt.stall, tt.refuse
				w, logged := newTestWorker(s, tt.retryFor)
				if tt.stall {
					w.Timeout = 3 * time.Second
				}
				began := time.Now()
				done, err := runWorker(context.Background(), w, rangeRequest("base/1/f", int64(len(data))))
				took := time.Since(began)
				if (err != nil) != (tt.wantErr != nil) {
					t.Fatalf("Run = %v, want error %v", err, tt.wantErr != nil)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				if err == nil && (len(done) != 1 || !bytes.Equal(done[0].Pieces[0].Data, data)) {
					t.Errorf("the request did not come through whole")
				}
				if took != tt.took {
					t.Errorf("took %s on the fake clock, want %s", took, tt.took)
				}
				opened, closed := s.counts()
				if opened != tt.opened || closed != opened {
					t.Errorf("%d connections opened and %d closed, want %d opened, all closed", opened, closed, tt.opened)
				}
				if want := max(tt.opened-1, 0); !tt.refuse && len(*logged) != want {
					t.Errorf("%d retries logged, want %d", len(*logged), want)
				}
			})
		})
	}
}

// TestWorkerCancelMidRange cancels the run while a range is half read: Run returns the
// cancellation, closes its connection, and (TestMain) leaves no goroutine behind.
func TestWorkerCancelMidRange(t *testing.T) {
	data := testFile(4 * RowSize)
	s := newFakeServer(map[string][]byte{"base/1/f": data})
	s.stallAt = 3
	w, _ := newTestWorker(s, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error)
	go func() {
		_, err := runWorker(ctx, w, rangeRequest("base/1/f", int64(len(data))))
		result <- err
	}()
	<-s.stalled
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if opened, closed := s.counts(); opened != 1 || closed != 1 {
		t.Errorf("%d connections opened and %d closed, want 1 and 1 (no retry after a cancel)", opened, closed)
	}
}

// TestWorkerStall: a server that goes silent in the middle of a range for Timeout is taken for a
// dead connection, and the error says so.
func TestWorkerStall(t *testing.T) {
	data := testFile(4 * RowSize)
	s := newFakeServer(map[string][]byte{"base/1/f": data})
	s.stallAt = 2
	w, _ := newTestWorker(s, 0)
	w.Timeout = 50 * time.Millisecond
	_, err := runWorker(context.Background(), w, rangeRequest("base/1/f", int64(len(data))))
	if err == nil || !strings.Contains(err.Error(), "no data from the server for 0.05 s") {
		t.Errorf("Run = %v, want the stall named", err)
	}
	if opened, closed := s.counts(); opened != 1 || closed != 1 {
		t.Errorf("%d connections opened and %d closed, want 1 and 1", opened, closed)
	}
}
