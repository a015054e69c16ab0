package backupcheck

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// walWalk reads the backup's WAL segments record by record, as pg_verifybackup has pg_waldump
// do, in the order the backup holds them: a stream is read once, and its manifest, which says
// where the WAL starts and stops, comes last. So the walk begins at the first record of the
// first segment and learns how far the WAL reads whole; finish then holds that against the
// manifest's WAL range, and the WAL's page magic against the major version in PG_VERSION.
type walWalk struct {
	want     *manifest.WALRange // the one range to walk, when known before the WAL is read
	check    *pgformat.WALChecker
	timeline uint32
	segSize  int64
	version  bytes.Buffer // PG_VERSION's first bytes
	tails    zeroTails
}

// newWALWalk makes a walk; ranges are the manifest's when it is read before the WAL, else nil.
func newWALWalk(ranges []manifest.WALRange) *walWalk {
	w := &walWalk{tails: zeroTails{}}
	if len(ranges) == 1 {
		w.want = &ranges[0]
	}
	return w
}

// versionBytes bounds what is kept of PG_VERSION: "18\n" and room to spare.
const versionBytes = 16

// wrap returns a reader of the backup's file p, size bytes read from r, that also passes the
// bytes to the walk when p is a WAL segment or PG_VERSION. The walk's problems never fail the
// read: finish reports them.
func (w *walWalk) wrap(p string, size int64, r io.Reader) io.Reader {
	if w == nil {
		return r
	}
	if p == "PG_VERSION" {
		return io.TeeReader(r, &limitedWriter{buf: &w.version, n: versionBytes})
	}
	seg, ok := w.take(p, size)
	if !ok || w.check.BeginSegment(seg) != nil {
		return r
	}
	return &walSegmentReader{r: r, check: w.check, seg: seg, tails: w.tails}
}

// take says whether the walk reads the file p of size bytes, and which segment it is: one of the
// timeline and size of the first segment taken, and of the manifest's range when known.
func (w *walWalk) take(p string, size int64) (pgformat.Segment, bool) {
	if !pgformat.IsSegmentPath(p) || size < minWALSegmentSize || size > maxWALSegmentSize || size&(size-1) != 0 {
		return 0, false
	}
	tli, seg, ok := pgformat.ParseName(path.Base(p), size)
	switch {
	case !ok:
		return 0, false
	case w.want != nil && (tli != w.want.Timeline || seg < pgformat.SegmentOf(pgformat.LSN(w.want.Start), size) ||
		w.want.End > w.want.Start && seg > pgformat.LastSegmentBefore(pgformat.LSN(w.want.End), size)):
		return 0, false
	case w.check != nil:
		return seg, tli == w.timeline && size == w.segSize
	}
	c, err := pgformat.NewWALChecker(pgformat.WALRange{Stop: ^pgformat.LSN(0), Timeline: tli, SegmentSize: size})
	if err != nil {
		return 0, false
	}
	w.check, w.timeline, w.segSize = c, tli, size
	return seg, true
}

// finish reports, against the manifest's WAL ranges, WAL that does not read whole from the
// backup's start to its stop, or that another major version than PG_VERSION's wrote. It returns
// whether the WAL read whole through the stop.
func (w *walWalk) finish(ranges []manifest.WALRange, rep *Report) bool {
	if w == nil || len(ranges) != 1 {
		// A standby's backup across a timeline switch has a range per timeline; its WAL is
		// checked by segment names and sizes only, and the summary does not say it reads whole.
		return false
	}
	r := ranges[0]
	start, stop := pgformat.LSN(r.Start), pgformat.LSN(r.End)
	if w.check == nil || w.timeline != r.Timeline || w.check.First() > pgformat.SegmentOf(start, w.segSize) {
		return false // the segments are missing, as checkWAL reports
	}
	whole := true
	if through := w.check.ValidThrough(); through < stop {
		whole = false
		var bad *pgformat.WALError
		if errors.As(w.check.Err(), &bad) {
			rep.add(BadWAL, "pg_wal/"+bad.Segment, "at %s: %s; recovery would stop there, before the backup's stop LSN %s",
				bad.LSN, bad.Problem, stop)
		} else {
			seg := pgformat.SegmentOf(through, w.segSize).Name(w.timeline, w.segSize)
			rep.add(BadWAL, "pg_wal/"+seg, "at %s: the WAL ends there, before the backup's stop LSN %s", through, stop)
		}
	}
	before := len(rep.Problems)
	w.tails.check(r, w.segSize, w.timeline, rep)
	whole = whole && len(rep.Problems) == before
	major, err := strconv.Atoi(strings.TrimSpace(w.version.String()))
	if want, known := pgformat.WALPageMagic(major); err == nil && known && w.check.Magic() != 0 && w.check.Magic() != want {
		whole = false
		wrote, _ := pgformat.WALMajor(w.check.Magic())
		rep.add(BadWAL, "pg_wal", "PostgreSQL %d wrote this WAL (page magic %04X), and PG_VERSION says %d", wrote, w.check.Magic(), major)
	}
	return whole
}

// walSegmentReader passes a segment's bytes to the checker as they are read, and ends the
// segment at the end of the file.
type walSegmentReader struct {
	r     io.Reader
	check *pgformat.WALChecker
	ended bool
	seg   pgformat.Segment
	tails zeroTails
	at    int64 // bytes read so far
}

func (s *walSegmentReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if !s.ended {
		if n > 0 {
			_, _ = s.check.Write(p[:n]) // a problem stays in the checker for finish
			s.tails.note(s.seg, s.at, p[:n])
			s.at += int64(n)
		}
		if err != nil {
			s.ended = true
			_ = s.check.EndSegment()
		}
	}
	return n, err
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	buf *bytes.Buffer
	n   int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if room := l.n - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// readPlainWAL reads a plain backup's PG_VERSION and WAL segments, in name order, through walk.
func readPlainWAL(ctx context.Context, found []plainFile, walk *walWalk, rep *Report) error {
	var files []plainFile
	for _, f := range found {
		if f.rel == "PG_VERSION" || pgformat.IsSegmentPath(f.rel) {
			files = append(files, f)
		}
	}
	slices.SortFunc(files, func(a, b plainFile) int { return strings.Compare(a.rel, b.rel) })
	for _, f := range files {
		file, err := os.Open(f.abs)
		if err != nil {
			rep.add(Unreadable, f.rel, "%v", err)
			continue
		}
		_, err = io.Copy(io.Discard, walk.wrap(f.rel, f.size, &ctxReader{ctx: ctx, r: file}))
		file.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			rep.add(Unreadable, f.rel, "%v", err)
		}
	}
	return nil
}
