package session

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// Control is the control session. It runs only statements that cannot fail in normal
// operation, because any error in it would drop the temporary replication slot that holds WAL.
type Control struct {
	conn   *pgx.Conn
	server Server
	slot   string
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
}

// OpenControl makes the control session on conn, which it then owns. The session's timeouts are turned
// off so that a long copy cannot end the backup by idling it out. answer bounds the wait for the
// statements a live server answers at once (see Control); 0 for none.
func OpenControl(ctx context.Context, conn *pgx.Conn, server Server, answer time.Duration) (*Control, error) {
	s := &Control{conn: conn, server: server, answer: answer}
	settings := "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET application_name = 'pgpull control'"
	if server.Major() >= 14 {
		settings += "; SET idle_session_timeout = 0"
	}
	if err := s.exec(ctx, settings); err != nil {
		return nil, fmt.Errorf("preparing the control session: %w", err)
	}
	return s, nil
}

func (s *Control) exec(ctx context.Context, sql string, args ...any) error {
	_, err := s.conn.Exec(ctx, sql, args...)
	return err
}

func (s *Control) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return s.conn.QueryRow(ctx, sql, args...)
}

// Begin holds WAL with a temporary slot when the role may create one, then starts the backup.
// The slot comes first so that it pins WAL from before the backup's start point.
func (s *Control) Begin(ctx context.Context, label string, fast bool) (Start, error) {
	var st Start
	reason, err := NoSlotReason(ctx, s.conn, s.server)
	if err != nil {
		return st, err
	}
	if st.NoSlot = reason; reason == "" {
		// The backend's pid came with the connection: no round trip for pg_backend_pid().
		name := "pgpull_" + strconv.Itoa(int(s.conn.PgConn().PID()))
		if err := s.exec(ctx, `SELECT pg_create_physical_replication_slot($1, true, true)`, name); err != nil {
			return st, fmt.Errorf("creating temporary replication slot %s: %w", name, err)
		}
		s.slot = name
		st.Slot = name
	}
	start := `SELECT pg_backup_start($1, $2)::text`
	if s.server.Major() < 15 {
		start = `SELECT pg_start_backup($1, $2, false)::text`
	}
	var lsn string
	if err := s.queryRow(ctx, start, label, fast).Scan(&lsn); err != nil {
		return st, fmt.Errorf("starting the backup: %w", err)
	}
	var err2 error
	if st.LSN, err2 = pgformat.ParseLSN(lsn); err2 != nil {
		return st, err2
	}
	if err := s.queryRow(ctx, `SELECT timeline_id FROM pg_control_checkpoint()`).Scan(&st.Timeline); err != nil {
		return st, fmt.Errorf("reading the timeline: %w", err)
	}
	return st, nil
}

// End stops the backup without waiting for archiving: pgpull copies the WAL itself.
func (s *Control) End(ctx context.Context) (Stop, error) {
	var st Stop
	stop := `SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)`
	if s.server.Major() < 15 {
		stop = `SELECT lsn::text, labelfile, spcmapfile FROM pg_stop_backup(false, false)`
	}
	var lsn string
	if err := s.queryRow(ctx, stop).Scan(&lsn, &st.Label, &st.TablespaceMap); err != nil {
		return st, fmt.Errorf("stopping the backup: %w", err)
	}
	var err error
	st.LSN, err = pgformat.ParseLSN(lsn)
	return st, err
}

// Close ends the session. A backup still running is aborted by the server when the connection
// goes, and the temporary slot with it; dropping the slot first just frees it sooner, so it is
// waited for a few seconds at most: on a connection gone silent it would never end.
func (s *Control) Close(ctx context.Context) {
	if s.slot != "" && !s.conn.IsClosed() {
		dropCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = s.exec(dropCtx, `SELECT pg_drop_replication_slot($1)`, s.slot)
		cancel()
	}
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
