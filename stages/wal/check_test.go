package wal

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/pgformat/walfixture"
	"github.com/pgpull/pgpull/pipeline"
)

// TestChecker runs the stage on real WAL (PostgreSQL 15, 1 MiB segments) as a backup's stream
// carries it, with the second reading the server would give of a damaged segment.
func TestChecker(t *testing.T) {
	fix, err := walfixture.Read(walfixture.Dir())
	if err != nil {
		t.Fatal(err)
	}
	start, _ := pgformat.ParseLSN(fix.Start)
	stop, _ := pgformat.ParseLSN(fix.Stop)
	r := pgformat.WALRange{Start: start, Timeline: fix.Timeline, SegmentSize: fix.SegmentSize, Magic: fix.Magic, SystemID: fix.SystemID}
	// padded is the middle segment as the fetch stage hands it over when the file vanished or
	// was cut short part way through the read: its tail is zeros.
	padded := bytes.Clone(fix.Segments[1])
	clear(padded[len(padded)/3:])
	good := fix.Segments[1]

	tests := []struct {
		name     string
		middle   []byte // what the first reading of the middle segment gives
		again    []byte // what reading it again gives
		noStop   bool   // the stop LSN is never given
		segments int    // how many segments the stream carries; 0 for all
		readTo   bool   // the last segment is read through the stop LSN's page only (File.ReadTo)
		want     string // in the error; "" for none
	}{
		{name: "whole WAL passes", middle: good},
		{name: "a last segment read through the stop LSN's page, the rest left out of its Data, passes", middle: good, readTo: true},
		{name: "a segment cut short mid-read is read again, and the second copy is written", middle: padded, again: good},
		{name: "a segment still bad when read again fails the backup", middle: padded, again: padded,
			want: fix.Names[1] + " at 0/"},
		{name: "a segment removed before the second reading fails the backup", middle: padded, again: nil,
			want: "removed the segment since"},
		{name: "WAL that ends before the stop LSN fails the backup", middle: good, segments: 2,
			want: "before the backup's stop LSN " + fix.Stop},
		{name: "a stream that never learns the stop LSN fails", middle: good, noStop: true,
			want: "before the backup's stop LSN was known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rereads := 0
			reread := func(ctx context.Context, f *pipeline.File) ([]byte, error) {
				rereads++
				return bytes.Clone(tt.again), nil
			}
			c, err := NewChecker(r, reread, t.Logf)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.noStop {
				c.SetStop(stop)
			}
			segs := [][]byte{fix.Segments[0], bytes.Clone(tt.middle), fix.Segments[2]}
			if tt.segments != 0 {
				segs = segs[:tt.segments]
			}
			in := make(chan *pipeline.Piece, 2*len(segs))
			out := make(chan *pipeline.Piece, 2*len(segs))
			// through the page holding the stop LSN, as the WAL scanner reads the last segment
			readTo := (int64(stop)%fix.SegmentSize + 8191) / 8192 * 8192
			for i, s := range segs {
				f := &pipeline.File{Path: "pg_wal/" + fix.Names[i], Source: "pg_wal/" + fix.Names[i], Size: fix.SegmentSize, WAL: true, Segment: -1}
				if tt.readTo && i == len(segs)-1 {
					f.ReadTo, s = readTo, s[:readTo]
				}
				in <- &pipeline.Piece{File: f, Length: f.Size, Data: s}
				in <- &pipeline.Piece{File: &pipeline.File{Path: "base/1/1259", Size: 3, Segment: 0}, Length: 3, Data: []byte("abc")}
			}
			close(in)
			err = c.Run(context.Background(), in, out)
			close(out)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if tt.want != "" {
				if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "REPLICATION") && !tt.noStop {
					t.Errorf("error %q is not one line naming the remedy", msg)
				}
				return
			}
			if wantRereads := map[bool]int{true: 1, false: 0}[tt.again != nil]; rereads != wantRereads {
				t.Errorf("%d second readings, want %d", rereads, wantRereads)
			}
			i := 0
			for p := range out {
				if p.File.WAL {
					want := fix.Segments[i]
					if p.File.ReadTo > 0 {
						want = want[:p.File.ReadTo]
					}
					if !bytes.Equal(p.Data, want) {
						t.Errorf("segment %s passed on with other bytes than the server's whole copy", fix.Names[i])
					}
					i++
				}
			}
			if i != 3 {
				t.Errorf("%d segments passed on, want 3", i)
			}
		})
	}
}
