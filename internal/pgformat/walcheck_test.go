package pgformat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat/walfixture"
)

// walFixture is real WAL from a backup's start through its stop, segment after segment.
type walFixture struct {
	r        WALRange
	segments [][]byte // the first holds r.Start
}

func (f *walFixture) first() Segment { return SegmentOf(f.r.Start, f.r.SegmentSize) }

// lsnAt is the position of byte off of the i-th segment.
func (f *walFixture) lsnAt(i int, off int64) LSN {
	return LSN(int64(f.first()+Segment(i))*f.r.SegmentSize + off)
}

// locate is the segment index and offset of lsn.
func (f *walFixture) locate(lsn LSN) (int, int64) {
	return int(SegmentOf(lsn, f.r.SegmentSize) - f.first()), int64(lsn) % f.r.SegmentSize
}

// copySegments is a deep copy of the segments, to damage.
func (f *walFixture) copySegments() [][]byte {
	out := make([][]byte, len(f.segments))
	for i, s := range f.segments {
		out[i] = bytes.Clone(s)
	}
	return out
}

// checkWAL feeds segments, the first holding r.Start, to a checker in writes of chunk bytes. A
// nil segment is left out.
func checkWAL(r WALRange, segments [][]byte, chunk int) (*WALChecker, error) {
	c, err := NewWALChecker(r)
	if err != nil {
		return nil, err
	}
	for i, s := range segments {
		if s == nil {
			continue // a segment left out
		}
		if err := feedSegment(c, c.First()+Segment(i), s, chunk); err != nil {
			return c, err
		}
	}
	return c, c.Finish()
}

func feedSegment(c *WALChecker, seg Segment, data []byte, chunk int) error {
	if err := c.BeginSegment(seg); err != nil {
		return err
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		if _, err := c.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return c.EndSegment()
}

func TestWALCheckerOnFixture(t *testing.T) {
	f, err := readWALFixture(walfixture.Dir())
	if err != nil {
		t.Fatal(err)
	}
	checkWALCases(t, f)
}

// walDamage is one way WAL goes bad: damage changes a copy of the fixture's segments (or its
// range) and says where the checker must report it. exact asks for that very LSN; otherwise the
// report must come at or before it.
type walDamage struct {
	name   string
	damage func(t *testing.T, f *walFixture, r *WALRange, segs *[][]byte) (at LSN, exact bool, problem string)
}

// checkWALCases runs the checker on f whole, in writes of several sizes, and on each damaged copy.
func checkWALCases(t *testing.T, f *walFixture) {
	if len(f.segments) < 3 {
		t.Fatalf("the WAL has %d segments; the cases need 3", len(f.segments))
	}
	for _, chunk := range []int{1 << 30, WALBlockSize, 3001, 100 << 10} {
		c, err := checkWAL(f.r, f.segments, chunk)
		if err != nil || !c.Reached() {
			t.Fatalf("good WAL in writes of %d bytes: %v (reached stop: %v)", chunk, err, c != nil && c.Reached())
		}
	}
	for _, d := range walDamages {
		t.Run(d.name, func(t *testing.T) {
			r, segs := f.r, f.copySegments()
			at, exact, problem := d.damage(t, f, &r, &segs)
			c, err := checkWAL(r, segs, 3001)
			var we *WALError
			if !errors.As(err, &we) {
				t.Fatalf("checker accepted damaged WAL (reached stop: %v, error %v)", c.Reached(), err)
			}
			if exact && we.LSN != at || we.LSN > at || we.LSN < r.Start-LSN(r.Start%LSN(r.SegmentSize)) {
				t.Errorf("reported at %s, want %s%s: %v", we.LSN, map[bool]string{false: "or before ", true: ""}[exact], at, err)
			}
			if want := SegmentOf(we.LSN, r.SegmentSize).Name(r.Timeline, r.SegmentSize); we.Segment != want {
				t.Errorf("segment named %s, want %s", we.Segment, want)
			}
			if !strings.Contains(we.Problem, problem) || len(we.Segment) != 24 || !strings.Contains(err.Error(), we.Segment) {
				t.Errorf("error %q does not say %q with the full segment name", err, problem)
			}
			if c.Reached() {
				t.Error("Reached after an error")
			}
		})
	}
}

var walDamages = []walDamage{
	{"zero-filled from a page before the stop", func(t *testing.T, f *walFixture, _ *WALRange, segs *[][]byte) (LSN, bool, string) {
		p := midPage(f)
		zeroFrom(f, *segs, p)
		return p, true, "zeros"
	}},
	{"zero-filled from the middle of a page", func(t *testing.T, f *walFixture, _ *WALRange, segs *[][]byte) (LSN, bool, string) {
		// The zeros may fall inside a record that goes on to the next page, whose header is then
		// the first thing found wrong.
		z := midPage(f) + 1000
		zeroFrom(f, *segs, z)
		return midPage(f) + WALBlockSize, false, ""
	}},
	{"zero-filled from inside a run of small records", func(t *testing.T, f *walFixture, _ *WALRange, segs *[][]byte) (LSN, bool, string) {
		z := f.r.Start + 3000
		zeroFrom(f, *segs, z)
		return z - z%WALBlockSize + WALBlockSize, false, ""
	}},
	{"flipped byte in a record", func(t *testing.T, f *walFixture, _ *WALRange, segs *[][]byte) (LSN, bool, string) {
		i, off := f.locate(f.r.Start)
		if binary.LittleEndian.Uint32((*segs)[i][off:]) <= WALRecordHeaderSize {
			t.Fatal("the first record has no data to damage")
		}
		(*segs)[i][off+WALRecordHeaderSize] ^= 0x20
		return f.r.Start, true, "CRC"
	}},
	{"flipped byte in a record's continuation in the next segment", func(t *testing.T, f *walFixture, _ *WALRange, segs *[][]byte) (LSN, bool, string) {
		for i := 1; i < len(*segs); i++ {
			h := ParseWALPageHeader((*segs)[i])
			if h.Info&walFirstIsContRecord != 0 && h.RemLen >= 16 && f.lsnAt(i, 0) < f.r.Stop {
				(*segs)[i][walLongPageHeader+8] ^= 0x01
				return f.lsnAt(i, 0) - 1, false, "CRC"
			}
		}
		t.Fatal("no record crosses a segment boundary in this WAL")
		return 0, false, ""
	}},
	{"segment swapped with another", func(t *testing.T, f *walFixture, _ *WALRange, segs *[][]byte) (LSN, bool, string) {
		(*segs)[1], (*segs)[2] = (*segs)[2], (*segs)[1]
		return f.lsnAt(1, 0), true, "page address"
	}},
	{"recycled page", func(t *testing.T, f *walFixture, _ *WALRange, segs *[][]byte) (LSN, bool, string) {
		// A page of the segment before, at the same offset: what a recycled file holds.
		off := int64(3 * WALBlockSize)
		copy((*segs)[1][off:off+WALBlockSize], (*segs)[0][off:])
		return f.lsnAt(1, off), true, "stale WAL"
	}},
	{"truncated segment", func(t *testing.T, f *walFixture, _ *WALRange, segs *[][]byte) (LSN, bool, string) {
		n := int64(len((*segs)[1])/2 + 100)
		(*segs)[1] = (*segs)[1][:n]
		return f.lsnAt(1, n), true, "ends after"
	}},
	{"segment missing", func(t *testing.T, f *walFixture, _ *WALRange, segs *[][]byte) (LSN, bool, string) {
		(*segs)[1] = nil
		return f.lsnAt(1, 0), true, "given next"
	}},
	{"WAL ends before the stop", func(t *testing.T, f *walFixture, _ *WALRange, segs *[][]byte) (LSN, bool, string) {
		*segs = (*segs)[:len(*segs)-1]
		return f.lsnAt(len(*segs), 0), false, "before the backup's stop"
	}},
	{"broken previous-record link", func(t *testing.T, f *walFixture, _ *WALRange, segs *[][]byte) (LSN, bool, string) {
		i, off := f.locate(f.r.Start)
		s := (*segs)[i]
		second := off + walAligned(int64(binary.LittleEndian.Uint32(s[off:])))
		n := int64(binary.LittleEndian.Uint32(s[second:]))
		if second/WALBlockSize != (second+n-1)/WALBlockSize {
			t.Fatal("the second record is not within one page")
		}
		rec := s[second : second+n]
		binary.LittleEndian.PutUint64(rec[8:], uint64(f.r.Start)-8)
		binary.LittleEndian.PutUint32(rec[20:], WALRecordCRC(rec)) // a valid record, wrongly linked
		return f.lsnAt(i, second), true, "previous-record link"
	}},
	{"WAL of another server version", func(t *testing.T, f *walFixture, r *WALRange, _ *[][]byte) (LSN, bool, string) {
		// Another major's magic than the WAL's own, whichever major wrote it.
		old := r.Magic
		if r.Magic, _ = WALPageMagic(13); r.Magic == old {
			r.Magic, _ = WALPageMagic(18)
		}
		return f.lsnAt(0, 0), true, "magic"
	}},
	{"WAL of another cluster", func(t *testing.T, f *walFixture, r *WALRange, _ *[][]byte) (LSN, bool, string) {
		r.SystemID++
		return f.lsnAt(0, 0), true, "system identifier"
	}},
}

// midPage is the start of the page halfway between the backup's start and stop.
func midPage(f *walFixture) LSN {
	m := f.r.Start + (f.r.Stop-f.r.Start)/2
	return m - m%WALBlockSize
}

// zeroFrom zeroes every byte from lsn on, as a server leaves a file it has not written yet.
func zeroFrom(f *walFixture, segs [][]byte, lsn LSN) {
	i, off := f.locate(lsn)
	clear(segs[i][off:])
	for _, s := range segs[i+1:] {
		clear(s)
	}
}

// TestWALCheckerRetry reads a damaged segment, then the same segment whole, as a backup reads a
// segment again from the server: the second reading is checked from the segment's beginning and
// the walk goes on.
func TestWALCheckerRetry(t *testing.T) {
	f, err := readWALFixture(walfixture.Dir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewWALChecker(f.r)
	if err != nil {
		t.Fatal(err)
	}
	bad := f.copySegments()
	zeroFrom(f, bad, f.lsnAt(1, 5000))
	if err := feedSegment(c, c.First(), f.segments[0], 3001); err != nil {
		t.Fatal(err)
	}
	if err := feedSegment(c, c.First()+1, bad[1], 3001); err == nil {
		t.Fatal("damaged segment accepted")
	}
	c.Retry()
	for i := 1; i < len(f.segments); i++ {
		if err := feedSegment(c, c.First()+Segment(i), f.segments[i], 3001); err != nil {
			t.Fatalf("segment %d read again: %v", i, err)
		}
	}
	if err := c.Finish(); err != nil || !c.Reached() {
		t.Fatalf("after the retry: %v", err)
	}
}

// FuzzWALChecker damages real WAL at one place with arbitrary bytes: the checker must never panic,
// and must accept the WAL when the patch changed nothing.
func FuzzWALChecker(f *testing.F) {
	fix, err := readWALFixture(walfixture.Dir())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(0), []byte{0})
	f.Add(uint32(int64(fix.r.Start)%fix.r.SegmentSize), []byte{0, 0, 0, 0})
	f.Add(uint32(fix.r.SegmentSize+walLongPageHeader), []byte{0xff})
	f.Add(uint32(WALBlockSize), []byte{0x10, 0xD1, 0x05, 0})
	f.Fuzz(func(t *testing.T, at uint32, patch []byte) {
		segs, r := fix.copySegments(), fix.r
		i, off := int(int64(at)/r.SegmentSize)%len(segs), int64(at)%r.SegmentSize
		same := true
		for k, b := range patch {
			if off+int64(k) < int64(len(segs[i])) {
				same = same && segs[i][off+int64(k)] == b
				segs[i][off+int64(k)] = b
			}
		}
		_, err := checkWAL(r, segs, 4096+int(at%5000))
		if same && err != nil {
			t.Fatalf("unchanged WAL refused: %v", err)
		}
	})
}

// FuzzWALCheckerBytes walks arbitrary bytes as two small segments: no input may make it panic.
func FuzzWALCheckerBytes(f *testing.F) {
	f.Add(make([]byte, 2*WALBlockSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := WALRange{Start: 2*WALBlockSize + walLongPageHeader, Stop: 4 * WALBlockSize, Timeline: 1,
			SegmentSize: 2 * WALBlockSize, Magic: 0xD110}
		var segs [][]byte
		for len(data) > 0 {
			n := min(len(data), 2*WALBlockSize)
			segs, data = append(segs, data[:n]), data[n:]
		}
		checkWAL(r, segs, 1000)
	})
}

// readWALFixture reads the fixture in dir.
func readWALFixture(dir string) (*walFixture, error) {
	w, err := walfixture.Read(dir)
	if err != nil {
		return nil, err
	}
	f := &walFixture{r: WALRange{Timeline: w.Timeline, SegmentSize: w.SegmentSize, Magic: w.Magic, SystemID: w.SystemID},
		segments: w.Segments}
	if f.r.Start, err = ParseLSN(w.Start); err == nil {
		f.r.Stop, err = ParseLSN(w.Stop)
	}
	return f, err
}

// writeWALFixture stores f in dir.
func writeWALFixture(dir string, f *walFixture) error {
	w := &walfixture.WAL{Start: f.r.Start.String(), Stop: f.r.Stop.String(), Timeline: f.r.Timeline,
		SegmentSize: f.r.SegmentSize, Magic: f.r.Magic, SystemID: f.r.SystemID, Segments: f.segments}
	for i := range f.segments {
		w.Names = append(w.Names, (f.first()+Segment(i)).Name(f.r.Timeline, f.r.SegmentSize))
	}
	return walfixture.Write(dir, w)
}

// BenchmarkWALChecker walks the fixture's real WAL (small records, then one record of 2.4 MB) in
// writes of 256 KiB, the row size the backup reads WAL in.
func BenchmarkWALChecker(b *testing.B) {
	f, err := readWALFixture(walfixture.Dir())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(f.segments)) * f.r.SegmentSize)
	for b.Loop() {
		if _, err := checkWAL(f.r, f.segments, 256<<10); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWALCheckerStopGivenLate starts a check before the stop LSN is known, as a backup does: the
// walk must reach the stop given later, and without one it must never pass.
func TestWALCheckerStopGivenLate(t *testing.T) {
	f, err := readWALFixture(walfixture.Dir())
	if err != nil {
		t.Fatal(err)
	}
	open := f.r
	open.Stop = ^LSN(0)
	c, err := NewWALChecker(open)
	if err != nil {
		t.Fatal(err)
	}
	last := len(f.segments) - 1
	for i, s := range f.segments[:last] {
		if err := feedSegment(c, c.First()+Segment(i), s, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SetStop(f.r.Stop); err != nil {
		t.Fatal(err)
	}
	if err := feedSegment(c, c.First()+Segment(last), f.segments[last], 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil || !c.Reached() {
		t.Fatalf("stop given before the last segment: %v", err)
	}

	if _, err := checkWAL(open, f.segments, 1<<20); err == nil || !strings.Contains(err.Error(), "before the backup's stop") {
		t.Fatalf("no stop ever given: %v, want an error", err)
	}
}

// TestWALCheckerStartUnknown walks WAL as a stream's verification must, before the manifest at its
// end says where the backup started and stopped: from the first record of the first segment, with
// the magic of the first page. What it reports is how far the WAL reads whole.
func TestWALCheckerStartUnknown(t *testing.T) {
	f, err := readWALFixture(walfixture.Dir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		from   int // the first segment given
		damage func(segs [][]byte)
		want   LSN // ValidThrough at least this; with damage, at most
	}{
		{"whole WAL", 0, nil, f.r.Stop},
		{"from a segment that begins inside a record", 1, nil, f.r.Stop},
		{"zeros from a page before the stop", 0, func(segs [][]byte) { zeroFrom(f, segs, midPage(f)) }, midPage(f)},
		{"zeros from the first page", 0, func(segs [][]byte) { zeroFrom(f, segs, f.lsnAt(0, 0)) }, f.lsnAt(0, 0)},
		// The record after the stop (the switch pg_backup_stop writes) damaged: the WAL reads
		// whole exactly up to the stop.
		{"damage right after the stop", 0, func(segs [][]byte) {
			i, off := f.locate(f.r.Stop)
			segs[i][off+4] ^= 1
		}, f.r.Stop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.r
			r.Start, r.Stop, r.Magic = 0, ^LSN(0), 0
			c, err := NewWALChecker(r)
			if err != nil {
				t.Fatal(err)
			}
			segs := f.copySegments()
			if tt.damage != nil {
				tt.damage(segs)
			}
			for i := tt.from; i < len(segs); i++ {
				if err := feedSegment(c, f.first()+Segment(i), segs[i], 3001); err != nil {
					break
				}
			}
			got := c.ValidThrough()
			if tt.damage == nil {
				if got < tt.want || c.Err() != nil || c.Magic() != f.r.Magic {
					t.Errorf("valid through %s (want at least %s), error %v, magic %04X", got, tt.want, c.Err(), c.Magic())
				}
				return
			}
			var we *WALError
			if got > tt.want || !errors.As(c.Err(), &we) || we.LSN < got {
				t.Errorf("valid through %s (want at most %s), error %v", got, tt.want, c.Err())
			}
			if tt.want == f.r.Stop && got != f.r.Stop {
				t.Errorf("valid through %s, want exactly the stop %s", got, f.r.Stop)
			}
		})
	}
}
