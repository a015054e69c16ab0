package changes

import (
	"slices"
)

// forkWhole says why a fork other than main goes whole, whatever a method found; "" for main.
func forkWhole(fork int) string {
	switch fork {
	case fsmFork:
		return "FSM fork: its changes are not WAL-logged"
	case vmFork:
		// 17.x before the 2026-07 releases left out VM blocks whose bits heap changes cleared,
		// and a bit clear does not raise the VM page's LSN.
		return "VM fork: its bit clears are neither summarized reliably nor raise its page LSN"
	case initFork:
		return "init fork"
	}
	return ""
}

// candidate is a file that passed the rules both methods share: a relation segment file of
// whole blocks that the prior backup holds too.
type candidate struct {
	Listed
	segmentFile
	Blocks uint32 // the file's length in blocks
	Prior  PriorFile
}

// sharedRules applies the rules that need only the file's name and size and the prior manifest.
// It returns the candidate, or the File that goes whole and false.
func sharedRules(f Listed, prior Prior, l Layout) (candidate, File, bool) {
	seg, ok := parseSegmentFile(f.Path)
	if !ok {
		return candidate{}, whole(f.Path, "not a relation file"), false
	}
	switch {
	case f.Size == 0:
		// An incremental file is never shorter than an empty one.
		return candidate{}, whole(f.Path, "empty"), false
	case f.Size%l.BlockSize != 0:
		return candidate{}, whole(f.Path, "size %d is not a multiple of the block size %d", f.Size, l.BlockSize), false
	case f.Size/l.BlockSize > int64(l.SegmentBlocks):
		return candidate{}, whole(f.Path, "size %d is over a segment file's %d blocks", f.Size, l.SegmentBlocks), false
	}
	if why := forkWhole(seg.Fork); why != "" {
		return candidate{}, whole(f.Path, "%s", why), false
	}
	p, ok := prior.Files[f.Path]
	if !ok {
		return candidate{}, whole(f.Path, "not in the prior backup"), false
	}
	return candidate{Listed: f, segmentFile: seg, Blocks: uint32(f.Size / l.BlockSize), Prior: p}, File{}, true
}

// incremental is the answer for a candidate that sends blocks (relative to the segment file, in
// any order, duplicates and blocks past its end allowed) and every block from tail to its end, with
// truncation length truncate; or the whole file when that is more than 90% of its blocks, as
// pg_basebackup judges: the incremental file would save little and cost a restore more.
func (c candidate) incremental(blocks []uint32, tail, truncate uint32) File {
	slices.Sort(blocks)
	blocks = slices.Compact(blocks)
	cut, _ := slices.BinarySearch(blocks, min(tail, c.Blocks))
	blocks = blocks[:cut]
	for b := tail; b < c.Blocks; b++ {
		blocks = append(blocks, b)
	}
	if uint64(len(blocks))*10 > uint64(c.Blocks)*9 {
		return whole(c.Path, "%d of its %d blocks changed", len(blocks), c.Blocks)
	}
	if len(blocks) == 0 {
		blocks = nil
	}
	return File{Path: c.Path, Blocks: blocks, TruncateBlocks: truncate}
}
