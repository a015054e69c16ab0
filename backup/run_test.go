package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/pipeline"
	"github.com/pgpull/pgpull/stages/fetch"
	"github.com/pgpull/pgpull/stages/wal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testSegment = 16 << 20

// fakeServer answers the stages as a server holding files would: the listing, one WAL segment
// once the backup has stopped, pg_control, and reads of the files' bytes on fake connections.
type fakeServer struct {
	files   map[string][]byte
	order   []string // the listing's order
	wal     string
	failing string // a path whose reads fail, "" for none

	mu     sync.Mutex
	events []string // what the server was asked, in order
}

func (s *fakeServer) event(e string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *fakeServer) list(ctx context.Context, out chan<- pipeline.Item) error {
	for _, p := range s.order {
		f := &pipeline.File{Path: p, Source: p, Size: int64(len(s.files[p])), ModTime: time.Unix(0, 0), Segment: -1}
		if err := pipeline.Send(ctx, out, pipeline.Item{File: f}); err != nil {
			return err
		}
	}
	s.event("listed")
	return nil
}

func (s *fakeServer) scanWAL(ctx context.Context, out chan<- pipeline.Item, stop <-chan wal.Stop) error {
	select {
	case <-stop:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.event("WAL sent")
	f := &pipeline.File{Path: "pg_wal/" + s.wal, Source: "pg_wal/" + s.wal, Size: testSegment, Required: true, WAL: true, Segment: -1}
	return pipeline.Send(ctx, out, pipeline.Item{File: f})
}

func (s *fakeServer) controlFile(context.Context) ([]byte, error) {
	s.event("pg_control read")
	return bytes.Repeat([]byte{'c'}, pgformat.ControlFileSize), nil
}

func (s *fakeServer) watch(ctx context.Context, stop <-chan struct{}) error {
	select {
	case <-stop:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *fakeServer) stopBackup(context.Context) (session.Stop, error) {
	s.event("stopped")
	return session.Stop{LSN: 0x3000100, Label: "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\n"}, nil
}

func (s *fakeServer) connectFetch(context.Context) (fetch.Conn, error) { return fakeConn{s}, nil }

func (s *fakeServer) rereadWAL(context.Context, *pipeline.File) ([]byte, error) {
	return nil, errors.New("not asked for in these tests")
}

// fakeConn serves the fetch workers' two forms of read, told apart by their parameters: a range
// (path, offset, row size, end) and a batch (arrays of paths, offsets and lengths).
type fakeConn struct{ s *fakeServer }

func (c fakeConn) Query(_ context.Context, _ string, params [][]byte, _, _ []int16) fetch.Rows {
	var rows [][]byte
	read := func(path string, off, n int64) []byte {
		if path == c.s.failing {
			return nil
		}
		if strings.HasPrefix(path, "pg_wal/") {
			return make([]byte, n)
		}
		data := c.s.files[path]
		return data[min(off, int64(len(data))):min(off+n, int64(len(data)))]
	}
	if len(params) == 4 {
		path, off, step, end := string(params[0]), atoi(params[1]), atoi(params[2]), atoi(params[3])
		for o := off; o < end; o += step {
			rows = append(rows, read(path, o, min(step, end-o)))
		}
	} else {
		paths, offs, lens := textArray(params[0]), textArray(params[1]), textArray(params[2])
		for i := range paths {
			rows = append(rows, read(paths[i], atoi([]byte(offs[i])), atoi([]byte(lens[i]))))
		}
	}
	for _, r := range rows {
		if r == nil && c.s.failing != "" {
			return &fakeRows{err: fmt.Errorf("could not open file %q: Permission denied", c.s.failing)}
		}
	}
	return &fakeRows{rows: rows, at: -1}
}

func (fakeConn) Close(context.Context) error { return nil }

type fakeRows struct {
	rows [][]byte
	at   int
	err  error
}

func (r *fakeRows) Next() bool       { r.at++; return r.err == nil && r.at < len(r.rows) }
func (r *fakeRows) Values() [][]byte { return [][]byte{r.rows[r.at]} }
func (r *fakeRows) Close() error     { return r.err }

func atoi(b []byte) int64 { n, _ := strconv.ParseInt(string(b), 10, 64); return n }

// textArray reads the array literals the workers send: {"a","b"} or {1,2}.
func textArray(b []byte) []string {
	var out []string
	for _, e := range strings.Split(strings.Trim(string(b), "{}"), ",") {
		out = append(out, strings.Trim(e, `"`))
	}
	return out
}

// fakeSink keeps what it is given.
type fakeSink struct {
	files    map[string][]byte
	order    []string
	manifest []byte
	aborted  bool
}

func (s *fakeSink) Put(_ context.Context, p *pipeline.Piece) error {
	defer p.Done()
	if p.First() {
		s.order = append(s.order, p.File.Path)
	}
	s.files[p.File.Path] = append(s.files[p.File.Path], p.Data...)
	return nil
}
func (s *fakeSink) Close(_ context.Context, m []byte) error { s.manifest = m; return nil }
func (s *fakeSink) Abort() error                            { s.aborted = true; return nil }

// newTestRun is a run whose backup has started on srv: what begin would leave.
func newTestRun(srv server) *run {
	tu := DefaultTuning()
	opts := Options{Jobs: 3, RangeSize: 64 << 10, Manifest: true, Checksums: manifest.CRC32C, Tuning: tu,
		Log: func(string, ...any) {}}
	b := &Backup{opts: opts, Server: session.Server{VersionNum: 150000, WALSegmentSize: testSegment}}
	r := &run{b: b, srv: srv, tally: newTally(testSegment), start: session.Start{LSN: 0x3000028, Timeline: 1}}
	r.endProgress = func() {}
	r.prepare()
	return r
}

func testFiles() (map[string][]byte, []string) {
	files := map[string][]byte{}
	var order []string
	for i, size := range []int{0, 100, 8192, 64 << 10, 200000, 5 << 20} {
		p := fmt.Sprintf("base/5/%d", 16384+i)
		files[p] = bytes.Repeat([]byte{byte('a' + i)}, size)
		order = append(order, p)
	}
	return files, order
}

// TestRunStages runs the stages against a fake server: every listed file reaches the sink whole
// with the server's bytes, in the listing's order; pg_control is read only after every data file
// is written, on a standby before the backup stops, on a primary beside the stop; backup_label and
// the WAL follow; the manifest lists each file with its size; the budget has every byte back.
func TestRunStages(t *testing.T) {
	for _, standby := range []bool{false, true} {
		t.Run(map[bool]string{false: "primary", true: "standby"}[standby], func(t *testing.T) { runStages(t, standby) })
	}
}

func runStages(t *testing.T, standby bool) {
	files, order := testFiles()
	srv := &fakeServer{files: files, order: order, wal: "000000010000000000000003"}
	r := newTestRun(srv)
	r.b.Server.InRecovery = standby
	sink := &fakeSink{files: map[string][]byte{}}
	if err := r.stages(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	res, err := r.finish(context.Background(), sink, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range order {
		if !bytes.Equal(sink.files[p], files[p]) {
			t.Errorf("%s: %d bytes in the sink, want the server's %d", p, len(sink.files[p]), len(files[p]))
		}
	}
	want := append(append([]string{}, order...), "global/pg_control", "backup_label", "pg_wal/"+srv.wal)
	if got := sink.order; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("sink order\n got %v\nwant %v", got, want)
	}
	events := srv.events
	if !standby && len(events) == 4 && events[1] == "stopped" {
		events[1], events[2] = events[2], events[1] // beside each other: either may come first
	}
	if got := strings.Join(events, ", "); got != "listed, pg_control read, stopped, WAL sent" {
		t.Errorf("the server was asked: %s", got)
	}
	m, err := manifest.Parse(sink.manifest)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]int64{}
	for _, f := range m.Files {
		listed[f.Path] = f.Size
	}
	for _, p := range append(order, "global/pg_control", "backup_label") {
		if size, ok := listed[p]; !ok || size != int64(len(sink.files[p])) {
			t.Errorf("manifest lists %s with %d bytes (listed %v), the sink has %d", p, size, ok, len(sink.files[p]))
		}
	}
	if res.Files != int64(len(order)+2) || res.WALSegments != 1 {
		t.Errorf("result counts %d files and %d WAL segments, want %d and 1", res.Files, res.WALSegments, len(order)+2)
	}
	if got := r.budget.Granted(); got != r.budget.Total() {
		t.Errorf("budget: %d of %d bytes granted at the end", got, r.budget.Total())
	}
}

// TestRunStagesFail: a read the server refuses fails the run with its error, every stage returns
// (goleak checks), and the backup is never stopped as if it were whole.
func TestRunStagesFail(t *testing.T) {
	files, order := testFiles()
	srv := &fakeServer{files: files, order: order, wal: "000000010000000000000003", failing: order[4]}
	r := newTestRun(srv)
	r.b.opts.Tuning.FetchRetryFor = 0
	err := r.stages(context.Background(), &fakeSink{files: map[string][]byte{}})
	if err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("stages returned %v, want the server's refusal", err)
	}
	for _, e := range srv.events {
		if e == "stopped" {
			t.Errorf("the backup was stopped on the server after a failed read: %v", srv.events)
		}
	}
}
