package sinks

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/pgpull/pgpull/pipeline"
)

// testTime is every test File's ModTime.
var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// testStream builds Files and their Pieces in stream order, as split and fetch would deliver them.
type testStream struct {
	pieces []*pipeline.Piece
	seq    uint64
}

func (s *testStream) add(f *pipeline.File, off, length int64, data []byte) *pipeline.Piece {
	p := &pipeline.Piece{File: f, Offset: off, Length: length, Seq: s.seq, Data: data}
	s.seq++
	s.pieces = append(s.pieces, p)
	return p
}

// dir adds a directory entry.
func (s *testStream) dir(path, tablespace string) *pipeline.File {
	f := &pipeline.File{Path: path, Tablespace: tablespace, Dir: true, ModTime: testTime, Segment: -1}
	s.add(f, 0, 0, nil)
	return f
}

// file adds a fetched file holding data, in pieces of at most pieceSize bytes.
func (s *testStream) file(path, tablespace string, data []byte, pieceSize int64) *pipeline.File {
	f := &pipeline.File{Path: path, Source: path, Tablespace: tablespace, Size: int64(len(data)),
		ModTime: testTime, Segment: -1}
	s.pieces = append(s.pieces, s.split(f, data, pieceSize)...)
	return f
}

// split cuts data into f's Pieces, numbering them, without adding them to the stream.
func (s *testStream) split(f *pipeline.File, data []byte, pieceSize int64) []*pipeline.Piece {
	var ps []*pipeline.Piece
	if len(data) == 0 {
		ps = append(ps, &pipeline.Piece{File: f, Seq: s.seq})
		s.seq++
		return ps
	}
	for off := int64(0); off < int64(len(data)); off += pieceSize {
		end := min(off+pieceSize, int64(len(data)))
		ps = append(ps, &pipeline.Piece{File: f, Offset: off, Length: end - off, Seq: s.seq, Data: data[off:end]})
		s.seq++
	}
	return ps
}

// content adds a file pgpull makes itself, such as backup_label.
func (s *testStream) content(path string, body []byte) *pipeline.File {
	f := &pipeline.File{Path: path, Size: int64(len(body)), ModTime: testTime, Content: body, Segment: -1}
	s.add(f, 0, 0, nil)
	return f
}

// missing adds a file that vanished before its first Piece was read: every Piece is Missing.
func (s *testStream) missing(path string, size, pieceSize int64) {
	f := &pipeline.File{Path: path, Source: path, Size: size, ModTime: testTime, Segment: -1}
	for _, p := range s.split(f, make([]byte, size), pieceSize) {
		p.Missing, p.Data = true, nil
		s.pieces = append(s.pieces, p)
	}
}

// shrunk adds a file listed at size that had only data left when read: its Pieces come
// zero-padded, except the last, which comes Missing with no Data at all.
func (s *testStream) shrunk(path string, data []byte, size, pieceSize int64) []byte {
	want := append(bytes.Clone(data), make([]byte, size-int64(len(data)))...)
	f := &pipeline.File{Path: path, Source: path, Size: size, ModTime: testTime, Segment: -1}
	ps := s.split(f, bytes.Clone(want), pieceSize)
	last := ps[len(ps)-1]
	if last.Offset >= int64(len(data)) {
		last.Missing, last.Data = true, nil
	}
	s.pieces = append(s.pieces, ps...)
	return want
}

// putAll feeds every Piece to sink through a real Budget, and checks that the sink gave every
// byte back by calling Done.
func putAll(t *testing.T, sink Sink, pieces []*pipeline.Piece) error {
	t.Helper()
	budget := pipeline.NewBudget(1<<40, 1<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := budget.Admit(ctx, &pipeline.Request{Pieces: pieces}); err != nil {
		t.Fatal(err)
	}
	var err error
	for i, p := range pieces {
		if err = sink.Put(context.Background(), p); err != nil {
			for _, q := range pieces[i+1:] {
				q.Done()
			}
			break
		}
	}
	if derr := budget.Drain(ctx); derr != nil {
		t.Errorf("the sink did not call Done on every Piece: %v", derr)
	}
	return err
}

// pattern is n bytes that differ from piece to piece and from offset to offset.
func pattern(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7) + byte(i>>9)
	}
	return b
}
