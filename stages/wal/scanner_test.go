package wal

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
	"github.com/pgpull/pgpull/pipeline"
)

// TestScannerEndsAtStopSegment: given the backup's stop LSN, the scanner sends the segments from
// the start through the one holding the last byte before the stop LSN, and no further. A stop
// LSN exactly at a segment boundary ends in the segment before it; one byte further needs the
// next segment too. The last segment is read from the server only through the WAL page holding
// the byte before the stop LSN (File.ReadTo), all of it when that page is its last. The server
// is real, its segments finished by pg_switch_wal.
func TestScannerEndsAtStopSegment(t *testing.T) {
	ctx := context.Background()
	c := testcluster.ForTest(t, testcluster.Options{})
	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var size int64
	if err := conn.QueryRow(ctx, `SELECT setting::int8 FROM pg_settings WHERE name = 'wal_segment_size'`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	position := func() pgformat.LSN {
		t.Helper()
		var txt string
		if err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&txt); err != nil {
			t.Fatal(err)
		}
		lsn, err := pgformat.ParseLSN(txt)
		if err != nil {
			t.Fatal(err)
		}
		return lsn
	}
	first := pgformat.SegmentOf(position(), size)
	// Finish the segment we are in and the next: both are then whole in pg_wal.
	for range 2 {
		if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS filler(g int); INSERT INTO filler SELECT generate_series(1, 1000)`); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `SELECT pg_switch_wal()`); err != nil {
			t.Fatal(err)
		}
	}
	if now := pgformat.SegmentOf(position(), size); now < first+2 {
		t.Fatalf("WAL at segment %d after two switches from %d", now, first)
	}
	boundary := pgformat.LSN(int64(first+1) * size) // where segment first+1 begins

	tests := []struct {
		name   string
		stop   pgformat.LSN
		want   []pgformat.Segment
		readTo int64 // of the last segment
		// listed: the stop comes with pg_wal's listing (a primary's, from the stop's round
		// trip), which names the segments on timeline 2 where the server has them on 1: the
		// names sent must be the listing's, not asked for again
		listed bool
	}{
		{"just before a boundary", boundary - 1, []pgformat.Segment{first}, 0, false},
		{"exactly at a boundary", boundary, []pgformat.Segment{first}, 0, false},
		{"just after a boundary", boundary + 1, []pgformat.Segment{first, first + 1}, 8192, false},
		{"inside the second page", boundary + 8193, []pgformat.Segment{first, first + 1}, 16384, false},
		{"at the end of the second page", boundary + 16384, []pgformat.Segment{first, first + 1}, 16384, false},
		{"listed with the stop", boundary + 1, []pgformat.Segment{first, first + 1}, 8192, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tli := uint32(1)
			end := Stop{LSN: tt.stop}
			if tt.listed {
				tli = 2
				for seg := first - 1; seg <= first+2; seg++ {
					end.WAL = append(end.WAL, seg.Name(tli, size))
				}
			}
			stop := make(chan Stop, 1)
			stop <- end
			s := &Scanner{Conn: conn, SegmentSize: size, BlockSize: 8192, Start: pgformat.LSN(int64(first)*size + 40), Timeline: 1,
				Interval: time.Hour, Stop: stop, Log: func(string, ...any) {}}
			out := make(chan pipeline.Item, 64)
			runCtx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := s.Run(runCtx, out); err != nil {
				t.Fatal(err)
			}
			close(out)
			var got []string
			var readTo []int64
			for it := range out {
				if it.File != nil && it.File.WAL {
					got = append(got, it.File.Path)
					readTo = append(readTo, it.File.ReadTo)
				}
			}
			wantReadTo := make([]int64, len(tt.want))
			wantReadTo[len(wantReadTo)-1] = tt.readTo
			if !slices.Equal(readTo, wantReadTo) {
				t.Errorf("stop %s: read to %v, want %v (0 for the whole segment)", tt.stop, readTo, wantReadTo)
			}
			var want []string
			for _, seg := range tt.want {
				want = append(want, "pg_wal/"+seg.Name(tli, size))
			}
			if !slices.Equal(got, want) {
				t.Errorf("stop %s: sent %v, want %v", tt.stop, got, want)
			}
		})
	}
}
