package session

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// FeedKeep is what decides whether the server can remove a finished WAL segment before a feed no
// replication slot protects (pgpull wal without --slot) copies it. Every checkpoint removes, or
// recycles under a future name, each segment before its redo point that lies more than
// wal_keep_size behind the segment being written; and a fast checkpoint (CHECKPOINT, a backup's
// -c fast, pg_backup_start's) can come at any moment, right after a segment is finished. So such
// a feed is safe only while it is never further behind than wal_keep_size. How far behind it
// falls is the WAL the server writes between a segment's end and its copy: up to one interval,
// plus the copy, at the rate of the moment; and whole bursts that no sample at start can see: a
// bulk load, or a round of routine backups, each of which switches to a new segment twice (at its
// start and its stop), so that eight at once finish sixteen segments, and a switch counts as a
// whole segment whatever it holds. NeededKeep covers the larger of: a burst up to max_wal_size
// (the WAL the server itself lets pg_wal grow by between two checkpoints) or burstSegments
// segments, and four times the WAL written at the measured rate over one interval and the copy.
type FeedKeep struct {
	SegmentSize int64
	WALKeepSize int64 // bytes
	MaxWALSize  int64 // bytes
	// Archiving is archive_mode (off, on, always) and Archiver whether an archive_command or
	// archive_library is set. With archive_mode on and neither, the server keeps every segment
	// until one is set: nothing is removed (pg_wal grows until someone notices).
	Archiving string
	Archiver  bool
	Standby   bool
	Rate      float64 // bytes of WAL per second, measured at start; 0 until then
}

// feedCopyAllowance is what NeededKeep adds to the interval for the copy of the segments found
// finished: reading 16 MB over a loaded local connection takes a few hundred milliseconds.
const feedCopyAllowance = time.Second

// burstFactor is the headroom over the measured WAL rate.
const burstFactor = 4

// burstSegments is the burst of segment switches NeededKeep covers at least: 1 GB of 16 MB
// segments, PostgreSQL's default max_wal_size; a round of 8 backups switches 16 times.
const burstSegments = 64

// ReadFeedKeep reads the server's WAL retention settings.
func ReadFeedKeep(ctx context.Context, conn *pgx.Conn) (FeedKeep, error) {
	var k FeedKeep
	// archive_command and archive_library are for the eyes of pg_read_all_settings only; for
	// other roles something archives, which claims nothing is kept.
	const q = `SELECT pg_size_bytes(current_setting('wal_segment_size')),
		pg_size_bytes(current_setting('wal_keep_size')), pg_size_bytes(current_setting('max_wal_size')),
		current_setting('archive_mode'),
		CASE WHEN pg_has_role('pg_read_all_settings', 'USAGE') THEN
			current_setting('archive_command') <> '' OR coalesce(current_setting('archive_library', true), '') <> '' END,
		pg_is_in_recovery()`
	var archiver *bool
	if err := conn.QueryRow(ctx, q).Scan(&k.SegmentSize, &k.WALKeepSize, &k.MaxWALSize, &k.Archiving, &archiver, &k.Standby); err != nil {
		return k, fmt.Errorf("reading the server's WAL retention settings: %w", err)
	}
	k.Archiver = archiver == nil || *archiver
	return k, nil
}

// KeepsEverything reports whether the server removes no WAL at all: archiving is on for this
// server (on a primary, or always) with nothing set to archive.
func (k FeedKeep) KeepsEverything() bool {
	active := k.Archiving == "always" || k.Archiving == "on" && !k.Standby
	return active && !k.Archiver
}

// NeededKeep is the wal_keep_size, in bytes and a whole number of segments, under which a feed
// looking every interval can lose a finished segment (see FeedKeep).
func (k FeedKeep) NeededKeep(interval time.Duration) int64 {
	written := burstFactor * k.Rate * (interval + feedCopyAllowance).Seconds()
	need := max(k.MaxWALSize, burstSegments*k.SegmentSize, k.SegmentSize+int64(written))
	return (need + k.SegmentSize - 1) / k.SegmentSize * k.SegmentSize
}

// Safe reports whether a feed looking every interval without a slot keeps up with what the
// server keeps.
func (k FeedKeep) Safe(interval time.Duration) bool {
	return k.KeepsEverything() || k.WALKeepSize >= k.NeededKeep(interval)
}

// SafeInterval is the longest interval, in steps of 100 ms down to 100 ms, at which the present
// wal_keep_size is enough, or 0 when none is or the interval makes no difference (no WAL was
// written at start): then only a larger wal_keep_size or a slot helps.
func (k FeedKeep) SafeInterval() time.Duration {
	const step = 100 * time.Millisecond
	if !k.Safe(step) || k.Rate <= 0 {
		return 0
	}
	kept := k.WALKeepSize / k.SegmentSize * k.SegmentSize         // NeededKeep is whole segments
	spare := float64(kept-k.SegmentSize) / (burstFactor * k.Rate) // seconds the keep lasts
	d := max(time.Duration(spare*float64(time.Second))-feedCopyAllowance, step) / step * step
	for d > step && !k.Safe(d) { // float rounding at the edge
		d -= step
	}
	return d
}

// KeptSegments is how many segments behind the one being written survive any checkpoint: how far
// behind a feed without a slot may fall before it can lose one. 0 means none; -1 means all.
func (k FeedKeep) KeptSegments() int64 {
	if k.KeepsEverything() {
		return -1
	}
	return k.WALKeepSize / k.SegmentSize
}
