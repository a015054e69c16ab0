package changes

import "slices"

// summaryTable is the WAL summaries between the prior backup's start and this one's, merged.
type summaryTable struct {
	forks map[fork]forkChanges
	// recreated are the databases with a relfilenode 0 row: created or dropped in the range.
	recreated map[database]bool
}

// forkChanges is what the summaries say of one relation fork.
type forkChanges struct {
	Blocks []uint32 // modified blocks, absolute (segment * RELSEG_SIZE + offset), ascending
	// Limit, when HasLimit, is the lowest length the fork was truncated to in the range, 0 when
	// it was created or dropped: blocks at or past it may hold anything in the prior backup.
	Limit    uint32
	HasLimit bool
}

// decide applies pg_basebackup's rules (basebackup_incremental.c GetFileBackupMethod) to one
// file, with two changes that only ever send more: every block at or past a limit is sent, not
// only the modified ones, since a fork truncated and extended again has pages written without WAL
// (zero-extended) that the summaries do not name; and VM and init forks go whole.
func (t summaryTable) decide(f Listed, prior Prior, l Layout) File {
	c, w, ok := sharedRules(f, prior, l)
	if !ok {
		return w
	}
	if t.recreated[c.database] {
		return whole(f.Path, "its database was created or dropped since the prior backup")
	}
	ch, ok := t.forks[c.fork]
	if !ok {
		return c.incremental(nil, c.Blocks, c.Blocks)
	}
	start := uint64(c.Segment) * uint64(l.SegmentBlocks)
	if ch.HasLimit && uint64(ch.Limit) <= start {
		return whole(f.Path, "the relation was created, or truncated to block %d, since the prior backup", ch.Limit)
	}
	end := start + uint64(c.Blocks)
	from := len(ch.Blocks)
	if start <= uint64(^uint32(0)) {
		from, _ = slices.BinarySearch(ch.Blocks, uint32(start))
	}
	var rel []uint32
	for _, b := range ch.Blocks[from:] {
		if uint64(b) >= end {
			break
		}
		rel = append(rel, uint32(uint64(b)-start))
	}
	tail, truncate := c.Blocks, c.Blocks
	if ch.HasLimit {
		limit := uint32(uint64(ch.Limit) - start) // above 0: the limit is past start
		tail, truncate = limit, min(limit, l.SegmentBlocks)
	}
	return c.incremental(rel, tail, truncate)
}
