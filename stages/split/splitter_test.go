package split

import (
	"context"
	"testing"

	"github.com/pgpull/pgpull/pipeline"
)

// piece is what a test expects of one Piece: its file, offset and length.
type piece struct {
	path        string
	off, length int64
}

func TestSplitter(t *testing.T) {
	const rangeSize = 100
	file := func(path string, size int64) *pipeline.File {
		return &pipeline.File{Path: path, Source: path, Size: size, Segment: -1}
	}
	tests := []struct {
		name  string
		files []*pipeline.File
		want  [][]piece // one slice per Request
	}{
		{
			name:  "a range-sized file is one range",
			files: []*pipeline.File{file("a", 100)},
			want:  [][]piece{{{"a", 0, 100}}},
		},
		{
			name:  "ranges cover a large file to its last byte",
			files: []*pipeline.File{file("a", 250)},
			want:  [][]piece{{{"a", 0, 100}}, {{"a", 100, 100}}, {{"a", 200, 50}}},
		},
		{
			name:  "one byte over the range size makes a second range of one byte",
			files: []*pipeline.File{file("a", 101)},
			want:  [][]piece{{{"a", 0, 100}}, {{"a", 100, 1}}},
		},
		{
			name:  "small files share a request",
			files: []*pipeline.File{file("a", 10), file("b", 12), file("c", 0)},
			want:  [][]piece{{{"a", 0, 10}, {"b", 0, 12}, {"c", 0, 0}}},
		},
		{
			name:  "a batch is sent once it holds a range's worth",
			files: []*pipeline.File{file("a", 12), file("b", 12), file("c", 12), file("d", 12), file("e", 12), file("f", 12), file("g", 12), file("h", 12), file("i", 12), file("j", 12)},
			want: [][]piece{
				{{"a", 0, 12}, {"b", 0, 12}, {"c", 0, 12}, {"d", 0, 12}, {"e", 0, 12}, {"f", 0, 12}, {"g", 0, 12}, {"h", 0, 12}, {"i", 0, 12}},
				{{"j", 0, 12}},
			},
		},
		{
			name:  "a large file sends the pending batch first, keeping stream order",
			files: []*pipeline.File{file("a", 5), file("big", 150), file("b", 5)},
			want:  [][]piece{{{"a", 0, 5}}, {{"big", 0, 100}}, {{"big", 100, 50}}, {{"b", 0, 5}}},
		},
		{
			name: "a WAL segment larger than a range is one piece, so it can be read again whole",
			files: []*pipeline.File{file("a", 5), {Path: "pg_wal/000000010000000000000002", Source: "pg_wal/000000010000000000000002",
				Size: 250, WAL: true, Segment: -1}},
			want: [][]piece{{{"a", 0, 5}}, {{"pg_wal/000000010000000000000002", 0, 250}}},
		},
		{
			name:  "directories travel as empty pieces",
			files: []*pipeline.File{{Path: "base", Dir: true, Segment: -1}},
			want:  [][]piece{{{"base", 0, 0}}},
		},
		{
			name:  "a file pgpull made carries its content",
			files: []*pipeline.File{{Path: "backup_label", Content: []byte("label"), Size: 5, Segment: -1}},
			want:  [][]piece{{{"backup_label", 0, 5}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runSplitter(t, rangeSize, 100, tt.files)
			if len(got) != len(tt.want) {
				t.Fatalf("%d requests, want %d: %v", len(got), len(tt.want), got)
			}
			var seq uint64
			for i, r := range got {
				if len(r.Pieces) != len(tt.want[i]) {
					t.Fatalf("request %d has %d pieces, want %d", i, len(r.Pieces), len(tt.want[i]))
				}
				for j, p := range r.Pieces {
					w := tt.want[i][j]
					if p.File.Path != w.path || p.Offset != w.off || p.Length != w.length {
						t.Errorf("request %d piece %d: %s@%d+%d, want %s@%d+%d", i, j, p.File.Path, p.Offset, p.Length, w.path, w.off, w.length)
					}
					if p.Seq != seq {
						t.Errorf("request %d piece %d: seq %d, want %d", i, j, p.Seq, seq)
					}
					if p.File.Content != nil && string(p.Data) != string(p.File.Content) {
						t.Errorf("content piece carries %q, want %q", p.Data, p.File.Content)
					}
					seq++
				}
			}
		})
	}
}

func TestSplitterBatchFileCap(t *testing.T) {
	var files []*pipeline.File
	for range 7 {
		files = append(files, &pipeline.File{Path: "f", Source: "f", Size: 1, Segment: -1})
	}
	got := runSplitter(t, 1000, 3, files)
	var sizes []int
	for _, r := range got {
		sizes = append(sizes, len(r.Pieces))
	}
	if len(sizes) != 3 || sizes[0] != 3 || sizes[1] != 3 || sizes[2] != 1 {
		t.Fatalf("batch sizes %v, want [3 3 1]", sizes)
	}
}

// TestSplitterBarrier checks that a barrier is released only once every Piece sent before it
// has given its bytes back, which is what orders global/pg_control after every other read.
func TestSplitterBarrier(t *testing.T) {
	ctx := context.Background()
	budget := pipeline.NewBudget(1000, 100)
	s := &Splitter{RangeSize: 100, SmallFile: 10, BatchFiles: 10, Budget: budget}
	in := make(chan pipeline.Item, 4)
	out := make(chan *pipeline.Request, 4)
	barrier := make(chan struct{})
	in <- pipeline.Item{File: &pipeline.File{Path: "a", Source: "a", Size: 150, Segment: -1}}
	in <- pipeline.Item{Barrier: barrier}
	close(in)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, in, out) }()
	first, second := <-out, <-out
	select {
	case <-barrier:
		t.Fatal("barrier released while pieces were in flight")
	default:
	}
	first.Pieces[0].Done()
	second.Pieces[0].Done()
	<-barrier
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func runSplitter(t *testing.T, rangeSize int64, batchFiles int, files []*pipeline.File) []*pipeline.Request {
	t.Helper()
	budget := pipeline.NewBudget(1<<20, int(rangeSize))
	s := &Splitter{RangeSize: rangeSize, SmallFile: rangeSize / 8, BatchFiles: batchFiles, Budget: budget}
	in := make(chan pipeline.Item, len(files))
	for _, f := range files {
		in <- pipeline.Item{File: f}
	}
	close(in)
	out := make(chan *pipeline.Request, 1000)
	if err := s.Run(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	close(out)
	var got []*pipeline.Request
	for r := range out {
		got = append(got, r)
	}
	return got
}
