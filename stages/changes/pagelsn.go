package changes

import (
	"context"
	"fmt"
	"path"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// PageLSN finds changed blocks by reading every page header of the relation files on the server
// and keeping the pages whose LSN is at or past the prior backup's start, or 0, as pg_probackup's
// DELTA mode does without its exception for 0. It works on every major. Blocks past the prior
// copy's length are sent without looking: they were not in the prior backup.
type PageLSN struct {
	Conn   *pgx.Conn
	Prior  Prior
	Layout Layout
	// Helper reads with pgpull's PL/Python helper, which CheckHelper found callable, instead of
	// plain SQL.
	Helper bool
	// Window is how many bytes the server reads at a time; 0 for DefaultWindow.
	Window int64
	// RoundTrip is how many bytes the server scans in one query; 0 for DefaultRoundTrip.
	RoundTrip int64

	scanSQL string // a page scan other than the default, for measuring the forms
}

// DefaultWindow is the stretch of a file one read on the server covers. On a 198 MB table
// (BenchmarkPageScan) windows of 1 to 8 MB scanned alike, 45-50 ms; 16 MB took 80 ms and 32 MB
// over a second (why, not found yet), so the default keeps well below.
const DefaultWindow = 4 << 20

// DefaultRoundTrip is how much the server scans per query: round trips are few (one per 512 MB),
// and a query still ends within seconds, so a cancel does not wait long.
const DefaultRoundTrip = 512 << 20

// maxWindowsPerQuery bounds a query's arrays when the files are many and small.
const maxWindowsPerQuery = 4096

func (p *PageLSN) Name() string {
	if p.Helper {
		return "page LSNs (PL/Python helper)"
	}
	return "page LSNs"
}

func (p *PageLSN) Changes(ctx context.Context, files []Listed) ([]File, error) {
	out, scans := planPages(files, p.Prior, p.Layout)
	changed, err := p.scanAll(ctx, scans)
	if err != nil {
		return nil, err
	}
	answerScans(out, scans, changed)
	return out, nil
}

// answerScans fills in the answers for the scanned files from the changed blocks found, by file.
func answerScans(out []File, scans []scan, changed map[int][]uint32) {
	for _, s := range scans {
		out[s.index] = s.candidate.incremental(changed[s.index], s.priorBlocks, s.candidate.Blocks)
	}
}

// planPages answers for the files that go whole, and lists the others to be scanned.
func planPages(files []Listed, prior Prior, l Layout) ([]File, []scan) {
	out := make([]File, len(files))
	recreated := recreatedDatabases(files, prior)
	var scans []scan
	for i, f := range files {
		c, w, ok := sharedRules(f, prior, l)
		switch {
		case !ok:
			out[i] = w
		case recreated[path.Dir(f.Path)]:
			out[i] = whole(f.Path, "its database was re-created since the prior backup (PG_VERSION is newer)")
		case c.Prior.Incremental:
			out[i] = whole(f.Path, "the prior backup holds it as an INCREMENTAL file, whose rebuilt length its manifest does not give")
		default:
			// Blocks past the prior copy's length are all sent; only those before it are looked at.
			scans = append(scans, scan{index: i, candidate: c, priorBlocks: uint32(min(c.Prior.Size/l.BlockSize, int64(c.Blocks)))})
		}
	}
	return out, scans
}

// scan is a file whose first priorBlocks blocks are to be looked at.
type scan struct {
	index int
	candidate
	priorBlocks uint32
}

// recreatedDatabases finds the database directories created again since the prior backup, under
// an OID the prior backup knew: their PG_VERSION, written when a database is created, is not the
// one the prior manifest dates. CREATE DATABASE ... STRATEGY FILE_COPY copies pages with the
// template's LSNs, older than the prior backup.
func recreatedDatabases(files []Listed, prior Prior) map[string]bool {
	out := map[string]bool{}
	for _, f := range files {
		dir, name := path.Split(f.Path)
		if name != "PG_VERSION" || !pgformat.IsDatabaseDir(path.Clean(dir)) {
			continue
		}
		p, ok := prior.Files[f.Path]
		if ok && p.LastModified != f.ModTime.UTC().Format(manifest.LastModifiedLayout) {
			out[path.Clean(dir)] = true
		}
	}
	return out
}

// scanAll scans the files in queries of up to RoundTrip bytes and returns the changed blocks
// found, by the index of the file in Changes' list.
func (p *PageLSN) scanAll(ctx context.Context, scans []scan) (map[int][]uint32, error) {
	window, roundTrip := p.Window, p.RoundTrip
	if window == 0 {
		window = DefaultWindow
	}
	if roundTrip == 0 {
		roundTrip = DefaultRoundTrip
	}
	windowBlocks := uint32(max(1, window/p.Layout.BlockSize))
	changed := map[int][]uint32{}
	var q windowQuery
	for _, s := range scans {
		for first := uint32(0); first < s.priorBlocks; first += windowBlocks {
			q.add(s.index, s.Path, first, min(windowBlocks, s.priorBlocks-first))
			if q.bytes(p.Layout.BlockSize) >= roundTrip || len(q.files) >= maxWindowsPerQuery {
				if err := p.run(ctx, &q, changed); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(q.files) > 0 {
		if err := p.run(ctx, &q, changed); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// windowQuery holds the windows of one query, as the page scans' array parameters.
type windowQuery struct {
	files  []int32
	paths  []string
	firsts []int64
	counts []int64
	blocks int64
}

func (q *windowQuery) add(file int, path string, first, count uint32) {
	q.files = append(q.files, int32(file))
	q.paths = append(q.paths, path)
	q.firsts = append(q.firsts, int64(first))
	q.counts = append(q.counts, int64(count))
	q.blocks += int64(count)
}

func (q *windowQuery) bytes(blockSize int64) int64 { return q.blocks * blockSize }

// run runs one query, adds what it finds to changed, and empties q.
func (p *PageLSN) run(ctx context.Context, q *windowQuery, changed map[int][]uint32) error {
	sql := p.scanSQL
	switch {
	case sql != "":
	case p.Helper:
		sql = helperScanSQL
	default:
		sql = windowScanSQL()
	}
	rows, err := p.Conn.Query(ctx, sql, q.files, q.paths, q.firsts, q.counts, int64(p.Prior.StartLSN), int32(p.Layout.BlockSize))
	if err != nil {
		return fmt.Errorf("reading page LSNs of %s and %d more windows: %w", q.paths[0], len(q.paths)-1, err)
	}
	var file int32
	var block int64
	_, err = pgx.ForEachRow(rows, []any{&file, &block}, func() error {
		changed[int(file)] = append(changed[int(file)], uint32(block))
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading page LSNs of %s and %d more windows: %w", q.paths[0], len(q.paths)-1, err)
	}
	*q = windowQuery{}
	return nil
}
