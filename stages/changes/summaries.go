package changes

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
)

// Summaries finds changed blocks in the server's WAL summaries (PostgreSQL 17+, summarize_wal
// on), as pg_basebackup --incremental has the server do. It runs after the new backup's
// pg_backup_start, whose start LSN and timeline it is given. Where the summaries cannot answer,
// Changes returns an *UnusableError.
type Summaries struct {
	Conn     *pgx.Conn
	Prior    Prior
	Layout   Layout
	StartLSN pgformat.LSN // the new backup's
	Timeline uint32
	// Wait bounds the wait for the summarizer to reach StartLSN; 0 for DefaultSummarizerWait.
	Wait time.Duration
}

func (s *Summaries) Name() string { return "WAL summaries" }

func (s *Summaries) Changes(ctx context.Context, files []Listed) ([]File, error) {
	wait := s.Wait
	if wait == 0 {
		wait = DefaultSummarizerWait
	}
	if err := waitSummarized(ctx, s.Conn, s.Timeline, s.StartLSN, wait); err != nil {
		return nil, err
	}
	var history []switchPoint
	if s.Prior.Timeline != s.Timeline {
		var err error
		if history, err = readHistory(ctx, s.Conn, s.Timeline); err != nil {
			return nil, err
		}
	}
	needed, err := neededRanges(history, s.Prior.Timeline, s.Prior.StartLSN, s.Timeline, s.StartLSN)
	if err != nil {
		return nil, err
	}
	available, err := availableSummaries(ctx, s.Conn)
	if err != nil {
		return nil, err
	}
	use, err := coveringSummaries(available, needed)
	if err != nil {
		return nil, err
	}
	table, err := readSummaries(ctx, s.Conn, use)
	if err != nil {
		return nil, err
	}
	out := make([]File, len(files))
	for i, f := range files {
		out[i] = table.decide(f, s.Prior, s.Layout)
	}
	return out, nil
}

// readHistory reads timeline tli's history file from pg_wal, with the pg_read_binary_file a
// backup role may call. A history file is a line per ancestor timeline: 1 MB holds thousands.
func readHistory(ctx context.Context, conn *pgx.Conn, tli uint32) ([]switchPoint, error) {
	name := fmt.Sprintf("pg_wal/%08X.history", tli)
	b, _, err := session.ReadFile(ctx, conn, name, 1<<20, true)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("the server has no %s, which says where the prior backup's timeline leads to this one", name)
	}
	h, err := parseHistory(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return h, nil
}

func availableSummaries(ctx context.Context, conn *pgx.Conn) ([]walRange, error) {
	rows, err := conn.Query(ctx, `SELECT tli, start_lsn::text, end_lsn::text FROM pg_available_wal_summaries()`)
	if err != nil {
		return nil, fmt.Errorf("listing WAL summaries: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (walRange, error) {
		var w walRange
		var tli int64
		var start, end string
		if err := r.Scan(&tli, &start, &end); err != nil {
			return w, err
		}
		var err error
		w.TLI = uint32(tli)
		if w.Start, err = pgformat.ParseLSN(start); err == nil {
			w.End, err = pgformat.ParseLSN(end)
		}
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing WAL summaries: %w", err)
	}
	return list, nil
}

// contentsSQL reads the given summary files in one query, a row per relation fork: the lowest
// limit block any of them sets, and every block they name modified.
const contentsSQL = `
SELECT c.reltablespace::int8, c.reldatabase::int8, c.relfilenode::int8, c.relforknumber::int4,
       min(c.relblocknumber) FILTER (WHERE c.is_limit_block),
       coalesce(array_agg(DISTINCT c.relblocknumber) FILTER (WHERE NOT c.is_limit_block), '{}')
  FROM unnest($1::int8[], $2::text[]::pg_lsn[], $3::text[]::pg_lsn[]) AS s(tli, start_lsn, end_lsn),
       LATERAL pg_wal_summary_contents(s.tli, s.start_lsn, s.end_lsn) AS c
 GROUP BY 1, 2, 3, 4`

func readSummaries(ctx context.Context, conn *pgx.Conn, use []walRange) (summaryTable, error) {
	t := summaryTable{forks: map[fork]forkChanges{}, recreated: map[database]bool{}}
	tlis := make([]int64, len(use))
	starts, ends := make([]string, len(use)), make([]string, len(use))
	for i, s := range use {
		tlis[i], starts[i], ends[i] = int64(s.TLI), s.Start.String(), s.End.String()
	}
	rows, err := conn.Query(ctx, contentsSQL, tlis, starts, ends)
	if err != nil {
		return t, fmt.Errorf("reading WAL summaries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var spc, db, node int64
		var forkNum int32
		var limit *int64
		var blocks []int64
		if err := rows.Scan(&spc, &db, &node, &forkNum, &limit, &blocks); err != nil {
			return t, fmt.Errorf("reading WAL summaries: %w", err)
		}
		d := database{Tablespace: uint32(spc), Database: uint32(db)}
		if node == 0 {
			t.recreated[d] = true
			continue
		}
		ch := forkChanges{Blocks: make([]uint32, len(blocks))}
		for i, b := range blocks {
			ch.Blocks[i] = uint32(b)
		}
		slices.Sort(ch.Blocks)
		if limit != nil {
			ch.Limit, ch.HasLimit = uint32(*limit), true
		}
		t.forks[fork{database: d, RelFileNode: uint32(node), Fork: int(forkNum)}] = ch
	}
	if err := rows.Err(); err != nil {
		return t, fmt.Errorf("reading WAL summaries: %w", err)
	}
	return t, nil
}
