package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// Control is the control session. It runs only statements that cannot fail in normal
// operation, because any error in it would drop the temporary replication slot that holds WAL.
type Control struct {
	conn   *pgx.Conn
	server Server
	// answer bounds the statements a live server answers at once (the watch's pings, the WAL
	// position); 0 for no bound. pg_backup_start, which waits for a checkpoint, has none.
	answer time.Duration
}

// Start is what pg_backup_start returned.
type Start struct {
	LSN      pgformat.LSN
	Timeline uint32
	Slot     string // the temporary slot holding WAL, or ""
	NoSlot   string // why no slot holds WAL, when Slot is ""
}

// Stop is what pg_backup_stop returned: the label and tablespace map go into the backup verbatim.
type Stop struct {
	LSN           pgformat.LSN
	Label         string
	TablespaceMap string
	// WAL is pg_wal's WAL files (ListWALQuery) as the primary has them right after the stop,
	// asked for in the stop's round trip; nil from a standby, where the WAL through the stop
	// may still be arriving.
	WAL []string
}

// ListWALQuery lists the WAL segment and timeline history files in pg_wal.
const ListWALQuery = `SELECT n FROM pg_ls_dir('pg_wal', true, false) AS n
		WHERE n ~ '^[0-9A-F]{24}$' OR n ~ '^[0-9A-F]{8}\.history$'`

// NewControl makes the control session on conn, which it then owns. conn went through Inspect,
// which turned the session's timeouts off. answer bounds the wait for the statements a live
// server answers at once (see Control); 0 for none.
func NewControl(conn *pgx.Conn, server Server, answer time.Duration) *Control {
	return &Control{conn: conn, server: server, answer: answer}
}

// Begin holds WAL with a temporary slot, unless noSlot (Preflight.NoSlot) says why none can,
// then starts the backup. The slot comes first so that it pins WAL from before the backup's
// start point. The slot, the start and the timeline are asked for in one round trip; should the
// last free slot have been taken since the preflight, the backup starts without one.
func (s *Control) Begin(ctx context.Context, label string, fast bool, noSlot string) (Start, error) {
	st := Start{NoSlot: noSlot}
	var steps []step
	if noSlot == "" {
		// The backend's pid came with the connection: no round trip for pg_backend_pid().
		st.Slot = "pgpull_" + strconv.Itoa(int(s.conn.PgConn().PID()))
		steps = append(steps, s.slotStep(st.Slot))
	}
	steps = append(steps, s.startSteps(label, fast, &st)...)
	err := runSteps(ctx, s.conn, steps...)
	var failed *slotError
	if !errors.As(err, &failed) {
		return st, err
	}
	st.Slot = ""
	if !failed.taken {
		return st, err
	}
	st.NoSlot = SlotsTaken
	return st, runSteps(ctx, s.conn, s.startSteps(label, fast, &st)...)
}

// slotError is the failure to create the temporary slot, taken when the server had no free one.
type slotError struct {
	err   error
	taken bool
}

func (e *slotError) Error() string { return e.err.Error() }
func (e *slotError) Unwrap() error { return e.err }

func (s *Control) slotStep(name string) step {
	return step{sql: `SELECT pg_create_physical_replication_slot($1, true, true)`, args: []any{name}, read: func(rows pgx.Rows) error {
		rows.Close()
		err := rows.Err()
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		taken := errors.As(err, &pgErr) && pgErr.Code == "53400" // configuration_limit_exceeded: no free slot
		return &slotError{fmt.Errorf("creating temporary replication slot %s: %w", name, err), taken}
	}}
}

// startSteps start the backup and read its start LSN and timeline into st.
func (s *Control) startSteps(label string, fast bool, st *Start) []step {
	start, args := `SELECT pg_backup_start($1, $2)::text`, []any{label, fast}
	if s.server.Major() < 15 {
		start = `SELECT pg_start_backup($1, $2, false)::text`
	}
	return []step{
		{sql: start, args: args, read: func(rows pgx.Rows) error {
			var lsn string
			if err := scanOne(rows, &lsn); err != nil {
				return fmt.Errorf("starting the backup: %w", err)
			}
			var err error
			st.LSN, err = pgformat.ParseLSN(lsn)
			return err
		}},
		{sql: `SELECT timeline_id FROM pg_control_checkpoint()`, read: func(rows pgx.Rows) error {
			if err := scanOne(rows, &st.Timeline); err != nil {
				return fmt.Errorf("reading the timeline: %w", err)
			}
			return nil
		}},
	}
}

// End stops the backup without waiting for archiving: pgpull copies the WAL itself. On a primary
// pg_wal is listed in the same round trip, for the WAL scanner's last look.
func (s *Control) End(ctx context.Context) (Stop, error) {
	var st Stop
	stop := `SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)`
	if s.server.Major() < 15 {
		stop = `SELECT lsn::text, labelfile, spcmapfile FROM pg_stop_backup(false, false)`
	}
	steps := []step{{sql: stop, read: func(rows pgx.Rows) error {
		var lsn string
		if err := scanOne(rows, &lsn, &st.Label, &st.TablespaceMap); err != nil {
			return fmt.Errorf("stopping the backup: %w", err)
		}
		var err error
		st.LSN, err = pgformat.ParseLSN(lsn)
		return err
	}}}
	if !s.server.InRecovery {
		steps = append(steps, step{sql: ListWALQuery, read: func(rows pgx.Rows) error {
			var err error
			if st.WAL, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return fmt.Errorf("listing pg_wal: %w", err)
			}
			return nil
		}})
	}
	err := runSteps(ctx, s.conn, steps...)
	return st, err
}

// Close ends the session. A backup still running is aborted by the server when the session
// ends, and the temporary slot dropped: pgx's goodbye (Terminate) ends it at once, so no
// pg_drop_replication_slot goes first, a round trip at the end of every backup. The goodbye is
// waited for a second at most: on a connection gone silent it would never get through.
func (s *Control) Close(ctx context.Context) {
	closeCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_ = s.conn.Close(closeCtx)
}

// answerWithin bounds ctx by the answer bound (see AnswerWithin).
func (s *Control) answerWithin(ctx context.Context, doing string) (context.Context, context.CancelFunc) {
	return AnswerWithin(ctx, s.answer, doing)
}

// LabelStartTimeline reads START TIMELINE from a backup label, which names the timeline the
// backup's WAL begins on.
func LabelStartTimeline(label string) (uint32, bool) {
	l, err := pgformat.ParseBackupLabel([]byte(label))
	return l.StartTimeline, err == nil
}
