package changes

import (
	"context"
	"path"
	"strings"
	"sync/atomic"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/pipeline"
)

// Stage is pass 1 in an incremental backup's pipeline, between the sources and the splitter: it
// holds the listed files in batches, asks Method which blocks of each changed, and sends every
// item on in the order it came, each relation file that changed in part as an INCREMENTAL file.
// Batches keep the questions few while the fetch workers copy the batch before.
type Stage struct {
	Method Method
	// BatchBytes and BatchFiles bound a batch: the files' bytes and their count.
	BatchBytes int64
	BatchFiles int
	// Refresh marks the changed blocks of each file for a refresh to read over the destination's
	// copy (File.Changed) instead of making INCREMENTAL files; a file pass 1 cannot narrow down is
	// left to the refresh's hash comparison.
	Refresh bool
	// Log, for -v, is told why each file goes whole.
	Log   func(format string, args ...any)
	Tally *Tally

	held  []pipeline.Item
	files []int // indexes in held of the files to ask about
	bytes int64
}

// Tally counts what pass 1 found, for the progress reports and the summary.
type Tally struct {
	Examined atomic.Int64 // blocks of the files asked about
	Sent     atomic.Int64 // blocks sent in INCREMENTAL files
	Whole    atomic.Int64 // files copied whole
	Partial  atomic.Int64 // files sent as INCREMENTAL files
}

// Run reads in until it closes, and does not close out.
func (s *Stage) Run(ctx context.Context, in <-chan pipeline.Item, out chan<- pipeline.Item) error {
	for {
		var it pipeline.Item
		var ok bool
		select {
		case it, ok = <-in:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return s.flush(ctx, out)
		}
		s.held = append(s.held, it)
		if asked(it) {
			s.files = append(s.files, len(s.held)-1)
			s.bytes += it.File.Size
		}
		// A barrier waits for every file before it to be written: it cannot wait in a batch.
		if it.Barrier != nil || s.bytes >= s.BatchBytes || len(s.files) >= s.BatchFiles {
			if err := s.flush(ctx, out); err != nil {
				return err
			}
		}
	}
}

// asked reports whether an item is a file pass 1 has a say in: read from the server, not WAL.
func asked(it pipeline.Item) bool {
	f := it.File
	return f != nil && f.Fetched() && !f.WAL && f.Source != ""
}

// flush asks about the held files and sends every held item on, in order.
func (s *Stage) flush(ctx context.Context, out chan<- pipeline.Item) error {
	if len(s.files) > 0 {
		listed := make([]Listed, len(s.files))
		for i, h := range s.files {
			f := s.held[h].File
			listed[i] = Listed{Path: f.Source, Size: f.Size, ModTime: f.ModTime}
		}
		answers, err := s.Method.Changes(ctx, listed)
		if err != nil {
			return err
		}
		for i, h := range s.files {
			s.apply(s.held[h].File, answers[i])
		}
	}
	for _, it := range s.held {
		if err := pipeline.Send(ctx, out, it); err != nil {
			return err
		}
	}
	s.held, s.files, s.bytes = s.held[:0], s.files[:0], 0
	return nil
}

// apply makes f what the answer says: left whole, or an INCREMENTAL file of the changed blocks,
// whose header pgpull writes and whose pages the fetch stage reads. One with no changed block is
// all header, and is not fetched.
func (s *Stage) apply(f *pipeline.File, a File) {
	s.Tally.Examined.Add((f.Size + pgformat.BlockSize - 1) / pgformat.BlockSize)
	if a.Whole {
		s.Tally.Whole.Add(1)
		s.Tally.Sent.Add((f.Size + pgformat.BlockSize - 1) / pgformat.BlockSize)
		if !routine(f.Path) {
			s.Log("incremental: %s whole: %s", f.Path, a.Reason)
		}
		return
	}
	s.Tally.Partial.Add(1)
	s.Tally.Sent.Add(int64(len(a.Blocks)))
	if s.Refresh {
		f.Changed = append(make([]uint32, 0, len(a.Blocks)), a.Blocks...)
		return
	}
	h := &pgformat.IncrementalHeader{Blocks: a.Blocks, TruncationBlockLength: a.TruncateBlocks}
	dir, name := path.Split(f.Path)
	f.Path = dir + pgformat.IncrementalPrefix + name
	f.Incremental = h
	f.Size = h.FileSize()
	f.Segment = -1 // its pages are not at their block's offset; see Stretches
	if len(a.Blocks) == 0 {
		f.Content = h.Bytes()
	}
}

// routine tells the files every incremental backup copies whole, which -v does not list one by
// one: free space and visibility maps, init forks, and files that are no relation's.
func routine(p string) bool {
	dir, name := path.Split(p)
	if dir = strings.TrimSuffix(dir, "/"); dir != "global" && !pgformat.IsDatabaseDir(dir) {
		return true
	}
	r, ok := pgformat.ParseRelationFile(name)
	return !ok || r.Fork != ""
}
