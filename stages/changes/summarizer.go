package changes

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// EnableSummaries is how an administrator turns WAL summaries on; no restart is needed.
const EnableSummaries = "ALTER SYSTEM SET summarize_wal = on; SELECT pg_reload_conf();"

// UnusableError says the WAL summaries cannot tell what changed since the prior backup, so the
// caller compares page LSNs instead.
type UnusableError struct {
	Reason string
	Hint   string // what to do so that the next incremental backup can use them
}

func (e *UnusableError) Error() string {
	return "WAL summaries unusable: " + e.Reason + "; " + e.Hint
}

// summariesMissing is an UnusableError for summaries that are off or do not reach back far
// enough: turning them on helps the next backup but one.
func summariesMissing(format string, args ...any) *UnusableError {
	return &UnusableError{
		Reason: fmt.Sprintf(format, args...),
		Hint:   "for later incremental backups to use them, a superuser runs " + EnableSummaries + " and keeps wal_summary_keep_time longer than the time between backups",
	}
}

// DefaultSummarizerWait bounds the wait for the WAL summarizer to reach the backup's start. It
// has one checkpoint's worth of WAL to read, which takes it seconds.
const DefaultSummarizerWait = time.Minute

// summarizerPoll is how often the summarizer's progress is read while waiting for it.
const summarizerPoll = 50 * time.Millisecond

// summarizerState is pg_get_wal_summarizer_state() and the setting that starts the summarizer.
type summarizerState struct {
	VersionNum int
	On         bool // summarize_wal
	TLI        uint32
	LSN        pgformat.LSN // how far summary files reach
	Running    bool
}

func readSummarizerState(ctx context.Context, conn *pgx.Conn) (summarizerState, error) {
	var s summarizerState
	var on, lsn *string
	var tli *int64
	var pid *int32
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_setting('summarize_wal', true)`).Scan(&s.VersionNum, &on); err != nil {
		return s, fmt.Errorf("reading summarize_wal: %w", err)
	}
	s.On = on != nil && *on == "on"
	if s.VersionNum < 170000 {
		return s, nil
	}
	if err := conn.QueryRow(ctx, `SELECT summarized_tli, summarized_lsn::text, summarizer_pid FROM pg_get_wal_summarizer_state()`).Scan(&tli, &lsn, &pid); err != nil {
		return s, fmt.Errorf("reading the WAL summarizer's state: %w", err)
	}
	if tli != nil {
		s.TLI = uint32(*tli)
	}
	if lsn != nil {
		l, err := pgformat.ParseLSN(*lsn)
		if err != nil {
			return s, fmt.Errorf("reading the WAL summarizer's state: %w", err)
		}
		s.LSN = l
	}
	s.Running = pid != nil
	return s, nil
}

// reached reports whether the summaries reach start on timeline tli.
func (s summarizerState) reached(tli uint32, start pgformat.LSN) bool {
	return s.TLI > tli || s.TLI == tli && s.LSN >= start
}

// waitSummarized waits until the server's WAL summaries reach start on timeline tli, as the
// server's WaitForWalSummarization does before an incremental backup, for at most wait. A server
// without summaries (before 17, summarize_wal off) is an UnusableError at once.
func waitSummarized(ctx context.Context, conn *pgx.Conn, tli uint32, start pgformat.LSN, wait time.Duration) error {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTicker(summarizerPoll)
	defer poll.Stop()
	for {
		s, err := readSummarizerState(ctx, conn)
		switch {
		case err != nil:
			return err
		case s.VersionNum < 170000:
			return &UnusableError{Reason: fmt.Sprintf("PostgreSQL %d has none", s.VersionNum/10000), Hint: "they came in PostgreSQL 17"}
		case !s.On:
			return summariesMissing("summarize_wal is off on the server")
		case s.reached(tli, start):
			return nil
		}
		select {
		case <-poll.C:
		case <-deadline.C:
			running := "running"
			if !s.Running {
				running = "not running"
			}
			return &UnusableError{
				Reason: fmt.Sprintf("the WAL summarizer (%s) reached %s on timeline %d, not this backup's start %s on timeline %d, within %s",
					running, s.LSN, s.TLI, start, tli, wait),
				Hint: "the server log says why the WAL summarizer lags",
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
