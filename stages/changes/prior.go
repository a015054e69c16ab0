package changes

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// incrementalPrefix starts the name of a file an incremental backup holds as changed blocks.
const incrementalPrefix = "INCREMENTAL."

// Prior is what pass 1 knows of the prior backup: where it started (its backup_label's START WAL
// LOCATION and START TIMELINE) and the files its manifest lists.
type Prior struct {
	StartLSN pgformat.LSN
	Timeline uint32
	Files    map[string]PriorFile // by the file's own name, INCREMENTAL. taken off
}

// PriorFile is one file of the prior backup.
type PriorFile struct {
	Size int64
	// Incremental marks a file the prior backup holds as INCREMENTAL.<name>: its Size is that
	// file's, not the length of the relation file it rebuilds.
	// A caller that knows the truncation length of that INCREMENTAL file can give the file as
	// full, with that many blocks' Size, to spare PageLSN copying it whole.
	Incremental bool
	// LastModified is the manifest's "YYYY-MM-DD HH:MM:SS GMT".
	LastModified string
}

// NewPrior gathers the prior backup's files from its manifest.
func NewPrior(m *manifest.Parsed, startLSN pgformat.LSN, timeline uint32) Prior {
	p := Prior{StartLSN: startLSN, Timeline: timeline, Files: make(map[string]PriorFile, len(m.Files))}
	for _, f := range m.Files {
		dir, name := path.Split(f.Path)
		if rest, ok := strings.CutPrefix(name, incrementalPrefix); ok {
			p.Files[dir+rest] = PriorFile{Size: f.Size, Incremental: true, LastModified: f.LastModified}
			continue
		}
		p.Files[f.Path] = PriorFile{Size: f.Size, LastModified: f.LastModified}
	}
	return p
}

// Layout is the server's relation file geometry: BLCKSZ and RELSEG_SIZE, the blocks per segment
// file.
type Layout struct {
	BlockSize     int64
	SegmentBlocks uint32
}

// ReadLayout reads the layout the server was built with, from pg_control_init(), which PUBLIC
// may call.
func ReadLayout(ctx context.Context, conn *pgx.Conn) (Layout, error) {
	var l Layout
	err := conn.QueryRow(ctx, `SELECT database_block_size::int8, blocks_per_segment::int8 FROM pg_control_init()`).Scan(&l.BlockSize, &l.SegmentBlocks)
	if err != nil {
		return l, fmt.Errorf("reading the server's block and segment sizes: %w", err)
	}
	return l, nil
}

// CheckOnHistory refuses a prior backup that is not of this server's past: one that starts after
// the new backup's start on the same timeline, or on a timeline the server's history does not
// lead from before the switch. An incremental on such a prior would rebuild into a copy of no
// server that ever existed.
func CheckOnHistory(ctx context.Context, conn *pgx.Conn, prior Prior, tli uint32, start pgformat.LSN) error {
	var history []switchPoint
	if prior.Timeline != tli {
		var err error
		if history, err = readHistory(ctx, conn, tli); err != nil {
			return err
		}
	}
	_, err := neededRanges(history, prior.Timeline, prior.StartLSN, tli, start)
	return err
}
