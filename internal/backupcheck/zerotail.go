package backupcheck

import (
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// pgpull reads the backup's stop segment from the server only through the WAL page that holds
// the stop LSN and writes zeros after it (stages/wal's Scanner, File.ReadTo). Recovery and the
// WAL walk read no further, so a changed byte there would pass them: zeroTails remembers, for
// each segment read, where its last non-zero byte is, and checkZeroTail holds the stop segment's
// against the page that holds the stop LSN.
type zeroTails map[pgformat.Segment]int64 // the offset after the segment's last non-zero byte

// note records that p, read at offset at of seg, holds non-zero bytes up to where it says.
func (z zeroTails) note(seg pgformat.Segment, at int64, p []byte) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0 {
			z[seg] = max(z[seg], at+int64(i)+1)
			return
		}
	}
}

// check reports the stop segment of r (of segSize bytes) when it is not zero past the page that
// holds the byte before the stop LSN.
func (z zeroTails) check(r manifest.WALRange, segSize int64, timeline uint32, rep *Report) {
	stop := pgformat.LSN(r.End)
	seg := pgformat.LastSegmentBefore(stop, segSize)
	end, read := z[seg]
	within := int64(uint64(stop) - uint64(seg)*uint64(segSize)) // in (0, segSize]
	page := (within + pgformat.WALBlockSize - 1) / pgformat.WALBlockSize * pgformat.WALBlockSize
	if !read || end <= page {
		return
	}
	last := pgformat.LSN(uint64(seg)*uint64(segSize) + uint64(end) - 1)
	rep.add(BadWAL, "pg_wal/"+seg.Name(timeline, segSize), "at %s: not zero past the WAL page that holds the backup's "+
		"stop LSN %s, where pgpull writes zeros: the segment was changed after the backup was taken", last, stop)
}
