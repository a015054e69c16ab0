package verify

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/fixture"
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/pipeline"
)

// pieces cuts a file into Pieces of at most size bytes, a single empty Piece when it has none.
func pieces(f *pipeline.File, data []byte, size int) []*pipeline.Piece {
	if len(data) == 0 {
		return []*pipeline.Piece{{File: f}}
	}
	var ps []*pipeline.Piece
	for off := 0; off < len(data); off += size {
		end := min(off+size, len(data))
		ps = append(ps, &pipeline.Piece{File: f, Offset: int64(off), Length: int64(end - off), Data: data[off:end]})
	}
	return ps
}

// runChecksummer passes ps through a Checksummer and checks each comes out unchanged, in order.
func runChecksummer(t *testing.T, c *Checksummer, ps []*pipeline.Piece) error {
	t.Helper()
	in := make(chan *pipeline.Piece, len(ps))
	out := make(chan *pipeline.Piece, len(ps))
	for _, p := range ps {
		in <- p
	}
	close(in)
	err := c.Run(context.Background(), in, out)
	close(out)
	i := 0
	for p := range out {
		if p != ps[i] {
			t.Fatalf("piece %d forwarded out of order", i)
		}
		i++
	}
	if err == nil && i != len(ps) {
		t.Fatalf("forwarded %d of %d pieces", i, len(ps))
	}
	return err
}

func crc(b []byte) []byte {
	h := manifest.CRC32C.New()
	h.Write(b)
	return h.Sum(nil)
}

func crcHex(b []byte) string { return hex.EncodeToString(crc(b)) }

func TestChecksummerListsFiles(t *testing.T) {
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	big := bytes.Repeat([]byte("0123456789"), 5000)
	label := []byte("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n")
	file := func(path string, size int) *pipeline.File {
		return &pipeline.File{Path: path, Size: int64(size), ModTime: mtime, Segment: -1}
	}
	labelFile := file("backup_label", len(label))
	labelFile.Content = label

	var ps []*pipeline.Piece
	ps = append(ps, &pipeline.Piece{File: &pipeline.File{Path: "base", Dir: true, Segment: -1}})
	ps = append(ps, &pipeline.Piece{File: labelFile, Length: int64(len(label)), Data: label})
	ps = append(ps, pieces(file("base/1/1259", len(big)), big, 16384)...)
	ps = append(ps, pieces(file("base/1/empty", 0), nil, 1)...)
	gone := file("base/1/gone", 20000)
	ps = append(ps, &pipeline.Piece{File: gone, Length: 10000, Missing: true},
		&pipeline.Piece{File: gone, Offset: 10000, Length: 10000, Missing: true})
	ps = append(ps, pieces(file("pg_wal/000000010000000000000002", 100), make([]byte, 100), 64)...)
	ps = append(ps, pieces(file("pg_wal/00000002.history", 5), []byte("1\t0/3"), 64)...)
	ps = append(ps, pieces(file("pg_wal/archive_status/000000010000000000000002.done", 0), nil, 1)...)
	// Content but no Data: the stage reads Content.
	made := file("tablespace_map", 3)
	made.Content = []byte("x y")
	ps = append(ps, &pipeline.Piece{File: made, Length: 3})
	// Truncated on the server after its first Piece: the tail counts as zeros.
	shrunk := file("base/1/shrunk", 8)
	ps = append(ps, &pipeline.Piece{File: shrunk, Length: 4, Data: []byte("abcd")},
		&pipeline.Piece{File: shrunk, Offset: 4, Length: 4, Missing: true})
	// Kept by a refresh: nobody read it, and the copy's manifest's checksum stands.
	unread := file("base/1/kept", 16384)
	unread.Patched, unread.PriorSize, unread.PriorChecksum = true, 16384, []byte{1, 2, 3, 4}
	ps = append(ps, &pipeline.Piece{File: unread, Length: 8192}, &pipeline.Piece{File: unread, Offset: 8192, Length: 8192})
	// Patched by a refresh: block 1 of 3 changed, and only its bytes were read, on both sides.
	old := bytes.Repeat([]byte("old bytes "), 3*8192/10+1)[:3*8192]
	updated := bytes.Clone(old)
	copy(updated[8192+100:], "new bytes")
	patched := file("base/1/patched", len(old))
	patched.Patched, patched.PriorSize, patched.PriorChecksum, patched.Changed = true, int64(len(old)), crc(old), []uint32{1}
	second := make([]byte, 2*8192) // block 2 of the file is not there: nobody read it
	copy(second, updated[8192:2*8192])
	ps = append(ps, &pipeline.Piece{File: patched, Length: 8192, Delta: &pipeline.Delta{Listed: true, Moved: []bool{false}}},
		&pipeline.Piece{File: patched, Offset: 8192, Length: 2 * 8192, Data: second, Delta: &pipeline.Delta{Listed: true,
			Moved: []bool{true, false}, OldCRC: []uint32{manifest.RawCRC32C(old[8192 : 2*8192]), 0}}})

	m := manifest.New(1, 0, manifest.CRC32C)
	if err := runChecksummer(t, NewChecksummer(manifest.CRC32C, m), ps); err != nil {
		t.Fatal(err)
	}
	want := []struct{ path, sum string }{
		{"backup_label", crcHex(label)},
		{"base/1/1259", crcHex(big)},
		{"base/1/empty", crcHex(nil)},
		{"pg_wal/00000002.history", crcHex([]byte("1\t0/3"))},
		{"pg_wal/archive_status/000000010000000000000002.done", crcHex(nil)},
		{"tablespace_map", crcHex([]byte("x y"))},
		{"base/1/shrunk", crcHex([]byte("abcd\x00\x00\x00\x00"))},
		{"base/1/kept", "01020304"},
		{"base/1/patched", crcHex(updated)},
	}
	got := m.Files()
	if len(got) != len(want) {
		t.Fatalf("manifest lists %d files, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Path != w.path || hex.EncodeToString(g.Checksum) != w.sum || g.LastModified != "2024-05-06 07:08:09 GMT" {
			t.Errorf("entry %d = %s %x %s, want %s %s", i, g.Path, g.Checksum, g.LastModified, w.path, w.sum)
		}
	}
}

func TestChecksummerRejectsDisorder(t *testing.T) {
	f := &pipeline.File{Path: "base/1/2", Size: 20, Segment: -1}
	tests := []struct {
		name string
		ps   []*pipeline.Piece
	}{
		{"gap", []*pipeline.Piece{
			{File: f, Length: 5, Data: make([]byte, 5)},
			{File: f, Offset: 10, Length: 10, Data: make([]byte, 10)}}},
		{"no first piece", []*pipeline.Piece{{File: f, Offset: 5, Length: 15, Data: make([]byte, 15)}}},
		{"short data", []*pipeline.Piece{{File: f, Length: 20, Data: make([]byte, 19)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := runChecksummer(t, NewChecksummer(manifest.CRC32C, manifest.New(1, 0, manifest.CRC32C)), tt.ps); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestPageVerifier checks pages as the fetch workers do, on a real PostgreSQL page (relation
// block 1) between two new pages: a page that fails is read again, and only a second failure
// counts.
func TestPageVerifier(t *testing.T) {
	page, err := os.ReadFile(fixture.Path(pageFixture...))
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(page)
	bad[5000] ^= 1
	const path = "base/5/16384"
	tests := []struct {
		name      string
		page      []byte // block 1 as the first read saw it
		startLSN  uint64
		reread    []byte // what reading block 1 again gives
		rereadErr error
		rereads   int // times block 1 is read again
		want      []pgformat.PageFailure
		wantErr   bool
	}{
		{"good page", page, math.MaxUint64, nil, nil, 0, nil, false},
		{"bad twice", bad, math.MaxUint64, bad, nil, 1, []pgformat.PageFailure{{Path: path, Block: 1,
			Computed: pgformat.PageChecksum(bad, 1), Stored: pgformat.PageChecksum(page, 1)}}, false},
		{"torn on the first read", bad, math.MaxUint64, page, nil, 1, nil, false},
		{"gone when read again", bad, math.MaxUint64, nil, nil, 1, nil, false},
		{"changed since the backup started", bad, pgformat.PageLSN(page), nil, nil, 0, nil, false},
		{"reading again fails", bad, math.MaxUint64, nil, errors.New("connection lost"), 1, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := slices.Concat(make([]byte, pgformat.BlockSize), tt.page, make([]byte, pgformat.BlockSize))
			f := &pipeline.File{Path: path, Size: int64(len(data)), Segment: 0}
			v := NewPageVerifier(tt.startLSN, 0)
			var reads int
			err := v.Verify(&pipeline.Piece{File: f, Length: int64(len(data)), Data: data}, func(off, length int64) ([]byte, error) {
				reads++
				if off != pgformat.BlockSize || length != pgformat.BlockSize {
					t.Errorf("read again at %d for %d bytes, want block 1", off, length)
				}
				return tt.reread, tt.rereadErr
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Verify = %v, want error %v", err, tt.wantErr)
			}
			if got := v.Failures(); !slices.Equal(got, tt.want) {
				t.Errorf("Failures = %+v, want %+v", got, tt.want)
			}
			if reads != tt.rereads {
				t.Errorf("read block 1 again %d times, want %d", reads, tt.rereads)
			}
		})
	}
}

func TestChecksummerStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan *pipeline.Piece, 1)
	f := &pipeline.File{Path: "a", Size: 1, Segment: -1}
	in <- &pipeline.Piece{File: f, Length: 1, Data: []byte{1}}
	done := make(chan error)
	go func() {
		done <- NewChecksummer(manifest.CRC32C, manifest.New(1, 0, manifest.CRC32C)).Run(ctx, in, make(chan *pipeline.Piece))
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

func BenchmarkChecksummer(b *testing.B) {
	const pieceSize = 1 << 20
	data := make([]byte, pieceSize)
	for _, alg := range []manifest.Algorithm{manifest.CRC32C, manifest.SHA256} {
		b.Run(alg.String(), func(b *testing.B) {
			c := NewChecksummer(alg, manifest.New(1, 0, alg))
			// One endless file, so the loop measures the per-Piece path alone.
			f := &pipeline.File{Path: "base/1/2", Size: math.MaxInt64, Segment: -1}
			p := &pipeline.Piece{File: f, Length: pieceSize, Data: data}
			b.SetBytes(pieceSize)
			b.ReportAllocs()
			var off int64
			for b.Loop() {
				p.Offset = off
				if err := c.piece(p); err != nil {
					b.Fatal(err)
				}
				off += pieceSize
			}
		})
	}
}
