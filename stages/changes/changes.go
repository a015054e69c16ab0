// Package changes finds, over SQL, which blocks of each relation file changed since a prior
// backup, for `pgpull backup --incremental-from PRIOR`. It is pass 1 of two: it says per file
// which blocks to send (or that the file goes whole), so that a tar member's size is known before
// pass 2, the fetch stage, reads those blocks.
//
// Two Methods answer: Summaries reads the server's WAL summaries (PostgreSQL 17+ with
// summarize_wal on), and PageLSN reads every page header of the relation files on the server and
// keeps the pages written since the prior backup started (every major). Both apply the rules of
// pg_basebackup's own choice (basebackup_incremental.c), made stricter where the summaries are
// known to miss changes.
package changes

import (
	"context"
	"fmt"
	"time"
)

// File is pass 1's answer for one file of the new backup.
type File struct {
	Path string
	// Whole says the file is copied whole, for Reason; Blocks and TruncateBlocks are then unset.
	Whole  bool
	Reason string
	// Blocks are the block numbers to send, relative to the segment file, ascending.
	Blocks []uint32
	// TruncateBlocks is the INCREMENTAL file's truncation_block_length: the rebuilt file's
	// minimum length in blocks. Blocks below it that are not sent come from the prior backup.
	TruncateBlocks uint32
}

// whole is the answer for a file copied whole.
func whole(path, format string, args ...any) File {
	return File{Path: path, Whole: true, Reason: fmt.Sprintf(format, args...)}
}

// Listed is one regular file of the new backup as the listing found it. Path is both the
// backup's name for it and where the server reads it, relative to the data directory.
type Listed struct {
	Path    string
	Size    int64
	ModTime time.Time
}

// Method finds the changed blocks of files, returning one File per Listed, in the same order.
type Method interface {
	// Name says what the method reads, for the one line that reports which one ran.
	Name() string
	Changes(ctx context.Context, files []Listed) ([]File, error)
}
