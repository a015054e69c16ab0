package walfeed

import (
	"context"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
)

// tailCache is the feed's last copy of a segment, and how much of it can no longer change: the
// WAL before the server's written position when it was read, down to its page. The next copy of
// that segment, partial again or finished, reads only the rest from the server: a segment being
// written is copied again at every change, and reading 16 MB each time is most of a busy feed's
// work.
type tailCache struct {
	name  string
	data  []byte
	final int64
}

// readSegment reads a segment of pg_wal whole, with the server's time of reading: only what
// follows the final part of the last copy, when that copy was of this file. nil data means the
// file is gone.
func (f *Feed) readSegment(ctx context.Context, name string) ([]byte, time.Time, error) {
	from := int64(0)
	if f.tail.name == name {
		from = f.tail.final
	}
	if from >= f.SegmentSize {
		return f.tail.data, time.Time{}, nil // all of it was final already
	}
	data, at, err := session.ReadFileAt(ctx, f.Conn, "pg_wal/"+name, from, f.SegmentSize-from, true)
	if err != nil || data == nil {
		return nil, at, err
	}
	if from > 0 {
		if int64(len(data)) != f.SegmentSize-from {
			f.tail = tailCache{}
			return f.readSegment(ctx, name) // not the file the copy was of: read it all
		}
		whole := f.tail.data
		copy(whole[from:], data)
		data = whole
	}
	_, seg, _ := pgformat.ParseName(name, f.SegmentSize)
	final := min(max(int64(f.writtenLSN)-int64(seg)*f.SegmentSize, 0), f.SegmentSize)
	f.tail = tailCache{name: name, data: data, final: final / int64(f.WALBlockSize) * int64(f.WALBlockSize)}
	return data, at, nil
}
