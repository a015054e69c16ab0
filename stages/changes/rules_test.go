package changes

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// testLayout has 16-block segment files, so that segment arithmetic shows in small numbers.
var testLayout = Layout{BlockSize: 8192, SegmentBlocks: 16}

func blocks(n int64) int64 { return n * testLayout.BlockSize }

// answer is what a test expects of a File: whole for a reason containing Why, or these blocks.
type answer struct {
	Why      string // non-empty: the file goes whole, for a reason containing this
	Blocks   []uint32
	Truncate uint32
}

func checkAnswer(t *testing.T, got File, want answer) {
	t.Helper()
	if want.Why != "" {
		if !got.Whole || !strings.Contains(got.Reason, want.Why) {
			t.Errorf("%s: got whole=%v %q blocks %v; want whole for %q", got.Path, got.Whole, got.Reason, got.Blocks, want.Why)
		}
		return
	}
	if got.Whole || !reflect.DeepEqual(got.Blocks, want.Blocks) || got.TruncateBlocks != want.Truncate {
		t.Errorf("%s: got whole=%v %q blocks %v truncate %d; want blocks %v truncate %d",
			got.Path, got.Whole, got.Reason, got.Blocks, got.TruncateBlocks, want.Blocks, want.Truncate)
	}
}

func TestSummaryRules(t *testing.T) {
	rel := fork{database: database{defaultTablespace, 5}, RelFileNode: 16384}
	spcRel := fork{database: database{16400, 5}, RelFileNode: 16384}
	global := fork{database: database{globalTablespace, 0}, RelFileNode: 1262}
	prior := Prior{Files: map[string]PriorFile{}}
	for _, p := range []string{"base/5/16384", "base/5/16384.1", "base/5/16384_fsm", "base/5/16384_vm", "base/5/16384_init",
		"base/6/16384", "global/1262", "pg_tblspc/16400/PG_17_1/5/16384"} {
		prior.Files[p] = PriorFile{Size: blocks(10)}
	}
	prior.Files["base/5/16390"] = PriorFile{Size: 100, Incremental: true}
	tests := []struct {
		name   string
		file   Listed
		forks  map[fork]forkChanges
		dbs    []database
		answer answer
	}{
		{name: "not a relation file", file: Listed{Path: "base/5/PG_VERSION", Size: 3}, answer: answer{Why: "not a relation file"}},
		{name: "a file outside relation directories", file: Listed{Path: "postgresql.conf", Size: blocks(1)}, answer: answer{Why: "not a relation file"}},
		{name: "filenode map", file: Listed{Path: "global/pg_filenode.map", Size: 512}, answer: answer{Why: "not a relation file"}},
		{name: "empty", file: Listed{Path: "base/5/16384"}, answer: answer{Why: "empty"}},
		{name: "size not a multiple of BLCKSZ", file: Listed{Path: "base/5/16384", Size: blocks(3) + 100}, answer: answer{Why: "not a multiple"}},
		{name: "over a segment", file: Listed{Path: "base/5/16384", Size: blocks(17)}, answer: answer{Why: "over a segment"}},
		{name: "FSM fork", file: Listed{Path: "base/5/16384_fsm", Size: blocks(3)}, answer: answer{Why: "FSM"}},
		{name: "VM fork", file: Listed{Path: "base/5/16384_vm", Size: blocks(1)}, answer: answer{Why: "VM"}},
		{name: "init fork", file: Listed{Path: "base/5/16384_init", Size: blocks(1)}, answer: answer{Why: "init fork"}},
		{name: "absent from the prior backup", file: Listed{Path: "base/5/16385", Size: blocks(4)}, answer: answer{Why: "not in the prior backup"}},
		{name: "database created or dropped", file: Listed{Path: "base/5/16384", Size: blocks(10)},
			dbs: []database{{defaultTablespace, 5}}, answer: answer{Why: "database was created or dropped"}},
		{name: "another database's marker", file: Listed{Path: "base/5/16384", Size: blocks(10)},
			dbs: []database{{defaultTablespace, 6}}, answer: answer{Truncate: 10}},
		{name: "no summary entry", file: Listed{Path: "base/5/16384", Size: blocks(10)}, answer: answer{Truncate: 10}},
		{name: "incremental in the prior backup", file: Listed{Path: "base/5/16390", Size: blocks(4)}, answer: answer{Truncate: 4}},
		{name: "modified blocks", file: Listed{Path: "base/5/16384", Size: blocks(10)},
			forks: map[fork]forkChanges{rel: {Blocks: []uint32{2, 7, 12}}}, answer: answer{Blocks: []uint32{2, 7}, Truncate: 10}},
		{name: "limit 0: created", file: Listed{Path: "base/5/16384", Size: blocks(10)},
			forks: map[fork]forkChanges{rel: {HasLimit: true}}, answer: answer{Why: "created, or truncated to block 0"}},
		{name: "limit at the segment's start", file: Listed{Path: "base/5/16384.1", Size: blocks(10)},
			forks: map[fork]forkChanges{rel: {Limit: 16, HasLimit: true}}, answer: answer{Why: "truncated to block 16"}},
		{name: "limit inside: every block past it sent", file: Listed{Path: "base/5/16384", Size: blocks(10)},
			forks: map[fork]forkChanges{rel: {Blocks: []uint32{2, 6}, Limit: 5, HasLimit: true}}, answer: answer{Blocks: []uint32{2, 5, 6, 7, 8, 9}, Truncate: 5}},
		{name: "limit past the file's end", file: Listed{Path: "base/5/16384", Size: blocks(10)},
			forks: map[fork]forkChanges{rel: {Blocks: []uint32{2}, Limit: 12, HasLimit: true}}, answer: answer{Blocks: []uint32{2}, Truncate: 12}},
		{name: "limit past the segment", file: Listed{Path: "base/5/16384", Size: blocks(10)},
			forks: map[fork]forkChanges{rel: {Blocks: []uint32{2}, Limit: 40, HasLimit: true}}, answer: answer{Blocks: []uint32{2}, Truncate: 16}},
		{name: "second segment: relative numbers", file: Listed{Path: "base/5/16384.1", Size: blocks(10)},
			forks: map[fork]forkChanges{rel: {Blocks: []uint32{3, 17, 20, 40}}}, answer: answer{Blocks: []uint32{1, 4}, Truncate: 10}},
		{name: "second segment, limit inside it", file: Listed{Path: "base/5/16384.1", Size: blocks(10)},
			forks: map[fork]forkChanges{rel: {Blocks: []uint32{3, 17}, Limit: 24, HasLimit: true}}, answer: answer{Blocks: []uint32{1, 8, 9}, Truncate: 8}},
		{name: "over 90% changed", file: Listed{Path: "base/5/16384", Size: blocks(10)},
			forks: map[fork]forkChanges{rel: {Blocks: []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}}, answer: answer{Why: "10 of its 10 blocks"}},
		{name: "90% changed is not over", file: Listed{Path: "base/5/16384", Size: blocks(10)},
			forks: map[fork]forkChanges{rel: {Blocks: []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8}}}, answer: answer{Blocks: []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8}, Truncate: 10}},
		{name: "blocks past the limit count toward 90%", file: Listed{Path: "base/5/16384", Size: blocks(10)},
			forks: map[fork]forkChanges{rel: {Blocks: []uint32{0}, Limit: 1, HasLimit: true}}, answer: answer{Why: "10 of its 10 blocks"}},
		{name: "another fork's entry", file: Listed{Path: "base/5/16384", Size: blocks(10)},
			forks: map[fork]forkChanges{{database: rel.database, RelFileNode: 16384, Fork: vmFork}: {HasLimit: true}}, answer: answer{Truncate: 10}},
		{name: "tablespace", file: Listed{Path: "pg_tblspc/16400/PG_17_1/5/16384", Size: blocks(10)},
			forks: map[fork]forkChanges{spcRel: {Blocks: []uint32{4}}, rel: {Blocks: []uint32{5}}}, answer: answer{Blocks: []uint32{4}, Truncate: 10}},
		{name: "global", file: Listed{Path: "global/1262", Size: blocks(10)},
			forks: map[fork]forkChanges{global: {Blocks: []uint32{1}}}, answer: answer{Blocks: []uint32{1}, Truncate: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := summaryTable{forks: tt.forks, recreated: map[database]bool{}}
			for _, d := range tt.dbs {
				table.recreated[d] = true
			}
			checkAnswer(t, table.decide(tt.file, prior, testLayout), tt.answer)
		})
	}
}

func TestPageRules(t *testing.T) {
	mtime := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	stamp := mtime.Format("2006-01-02 15:04:05 GMT")
	prior := Prior{Files: map[string]PriorFile{
		"base/5/PG_VERSION":    {Size: 3, LastModified: stamp},
		"base/6/PG_VERSION":    {Size: 3, LastModified: stamp},
		"base/5/16384":         {Size: blocks(10)},
		"base/5/16385":         {Size: blocks(4)},
		"base/5/16386":         {Size: blocks(12)},
		"base/5/16387":         {Size: blocks(10)},
		"base/5/16384_vm":      {Size: blocks(1)},
		"base/5/16388":         {Size: 100, Incremental: true},
		"base/6/16384":         {Size: blocks(10)},
		"base/5/16389":         {Size: blocks(10)},
		"base/5/16384.1":       {Size: blocks(10)},
		"global/1262":          {Size: blocks(10)},
		"pg_tblspc/9/PG_1/5/7": {Size: blocks(10)},
	}}
	tests := []struct {
		name    string
		file    Listed
		changed []uint32 // what the server scan found
		answer  answer
	}{
		{name: "changed pages", file: Listed{Path: "base/5/16384", Size: blocks(10)}, changed: []uint32{3, 1}, answer: answer{Blocks: []uint32{1, 3}, Truncate: 10}},
		{name: "nothing changed", file: Listed{Path: "base/5/16389", Size: blocks(10)}, answer: answer{Truncate: 10}},
		{name: "grown since: the new blocks sent", file: Listed{Path: "base/5/16385", Size: blocks(10)}, changed: []uint32{1}, answer: answer{Blocks: []uint32{1, 4, 5, 6, 7, 8, 9}, Truncate: 10}},
		{name: "shrunk since", file: Listed{Path: "base/5/16386", Size: blocks(10)}, changed: []uint32{9}, answer: answer{Blocks: []uint32{9}, Truncate: 10}},
		{name: "over 90% changed", file: Listed{Path: "base/5/16387", Size: blocks(10)}, changed: []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, answer: answer{Why: "10 of its 10"}},
		{name: "second segment", file: Listed{Path: "base/5/16384.1", Size: blocks(10)}, changed: []uint32{0}, answer: answer{Blocks: []uint32{0}, Truncate: 10}},
		{name: "global", file: Listed{Path: "global/1262", Size: blocks(10)}, changed: []uint32{2}, answer: answer{Blocks: []uint32{2}, Truncate: 10}},
		{name: "tablespace", file: Listed{Path: "pg_tblspc/9/PG_1/5/7", Size: blocks(10)}, changed: []uint32{2}, answer: answer{Blocks: []uint32{2}, Truncate: 10}},
		{name: "VM fork", file: Listed{Path: "base/5/16384_vm", Size: blocks(1)}, answer: answer{Why: "VM"}},
		{name: "absent from the prior backup", file: Listed{Path: "base/5/20000", Size: blocks(1)}, answer: answer{Why: "not in the prior backup"}},
		{name: "incremental in the prior backup", file: Listed{Path: "base/5/16388", Size: blocks(10)}, answer: answer{Why: "INCREMENTAL"}},
		{name: "database re-created", file: Listed{Path: "base/6/16384", Size: blocks(10)}, answer: answer{Why: "re-created"}},
		{name: "not a relation file", file: Listed{Path: "base/5/PG_VERSION", Size: 3, ModTime: mtime}, answer: answer{Why: "not a relation file"}},
	}
	files := []Listed{
		{Path: "base/5/PG_VERSION", Size: 3, ModTime: mtime},
		{Path: "base/6/PG_VERSION", Size: 3, ModTime: mtime.Add(time.Second)},
	}
	changed := map[int][]uint32{}
	for _, tt := range tests {
		changed[len(files)] = tt.changed
		files = append(files, tt.file)
	}
	out, scans := planPages(files, prior, testLayout)
	for _, s := range scans {
		if s.Prior.Size/testLayout.BlockSize < int64(s.priorBlocks) {
			t.Errorf("%s: scans %d blocks, past the prior copy's %d bytes", s.Path, s.priorBlocks, s.Prior.Size)
		}
	}
	answerScans(out, scans, changed)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkAnswer(t, out[i+2], tt.answer) })
	}
}
