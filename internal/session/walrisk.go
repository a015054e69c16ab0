package session

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// KeepWAL is the remedy for WAL the server removed or recycled before pgpull copied it.
const KeepWAL = "give the role REPLICATION so pgpull holds WAL with a temporary slot, or raise wal_keep_size"

// NoSlotReason says why no temporary replication slot can hold WAL for a backup of the server
// conn is connected to, or "" when one can.
func NoSlotReason(ctx context.Context, conn *pgx.Conn, server Server) (string, error) {
	if server.InRecovery {
		return "the server is a standby (pgpull makes slots on primaries only)", nil
	}
	q := `SELECT (rolsuper OR rolreplication) AND current_setting('max_replication_slots')::int > 0,
		(SELECT count(*) FROM pg_replication_slots) < current_setting('max_replication_slots')::int
		FROM pg_roles WHERE rolname = current_user`
	var may, free bool
	if err := conn.QueryRow(ctx, q).Scan(&may, &free); err != nil {
		return "", fmt.Errorf("reading the role's attributes: %w", err)
	}
	switch {
	case !may:
		return "the role lacks REPLICATION, or max_replication_slots is 0", nil
	case !free:
		return "every replication slot the server allows is taken", nil
	}
	return "", nil
}

// WALRisk weighs, for a backup no slot protects, the WAL the server will write during the copy
// against what it keeps: a checkpoint removes the segments behind its redo point beyond
// wal_keep_size, and the first one after the start comes within checkpoint_timeout, or sooner
// once max_wal_size / (1 + checkpoint_completion_target) of WAL has been written.
type WALRisk struct {
	WALRate           float64       // bytes of WAL per second, measured
	CopyBytes         int64         // the databases' size, about what the copy reads
	CopyRate          float64       // bytes per second the copy is expected to run at
	CopyTime          time.Duration // CopyBytes / CopyRate
	MaxWALSize        int64
	WALKeepSize       int64
	CheckpointTimeout time.Duration
	CompletionTarget  float64
}

// WALDuringCopy is the WAL the server is expected to write while the copy runs.
func (r WALRisk) WALDuringCopy() int64 { return int64(r.WALRate * r.CopyTime.Seconds()) }

// CheckpointDistance is the WAL after which the server starts a checkpoint on its own.
func (r WALRisk) CheckpointDistance() int64 {
	return int64(float64(r.MaxWALSize) / (1 + r.CompletionTarget))
}

// AtRisk reports whether a checkpoint may remove WAL the backup needs before it is copied.
func (r WALRisk) AtRisk() bool {
	w := r.WALDuringCopy()
	return w > r.WALKeepSize && (r.CopyTime > r.CheckpointTimeout || w > r.CheckpointDistance())
}

// walSampleGap is the time between the two readings of the WAL position.
const walSampleGap = time.Second

// WALSample is the first of the two readings of the WAL position the WAL rate is measured
// between. The second is taken on the control session while the backup starts and runs, so
// that the gap between them delays nothing.
type WALSample struct {
	query string
	pos   float64
	at    time.Time // the server's clock
	taken time.Time // ours, for the wait
}

// MeasureWALRisk reads the server's WAL settings and size, and takes the first reading of its
// WAL position; the risk's WALRate is 0 until Control.WALRate measures it. copyRate is the
// copy's expected bytes per second.
func MeasureWALRisk(ctx context.Context, conn *pgx.Conn, server Server, copyRate float64) (WALRisk, WALSample, error) {
	r := WALRisk{CopyRate: copyRate}
	q := `SELECT pg_size_bytes(current_setting('max_wal_size')), pg_size_bytes(current_setting('wal_keep_size')),
		(SELECT setting::int FROM pg_settings WHERE name = 'checkpoint_timeout'),
		current_setting('checkpoint_completion_target')::float8,
		(SELECT sum(pg_database_size(oid))::int8 FROM pg_database WHERE datallowconn)`
	var timeout int
	if err := conn.QueryRow(ctx, q).Scan(&r.MaxWALSize, &r.WALKeepSize, &timeout, &r.CompletionTarget, &r.CopyBytes); err != nil {
		return r, WALSample{}, fmt.Errorf("reading the server's WAL settings: %w", err)
	}
	r.CheckpointTimeout = time.Duration(timeout) * time.Second
	if copyRate > 0 {
		r.CopyTime = time.Duration(float64(r.CopyBytes) / copyRate * float64(time.Second))
	}
	s := WALSample{query: `SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, clock_timestamp()`}
	if server.InRecovery {
		s.query = `SELECT coalesce(pg_last_wal_replay_lsn() - '0/0'::pg_lsn, 0), clock_timestamp()`
	}
	if err := conn.QueryRow(ctx, s.query).Scan(&s.pos, &s.at); err != nil {
		return r, s, fmt.Errorf("reading the WAL position: %w", err)
	}
	s.taken = time.Now()
	return r, s, nil
}

// WALRate reads the WAL position again once walSampleGap has passed since first, and returns
// the bytes of WAL per second in between. It returns ok false, having read nothing, when stop
// closes or ctx ends first: the copy was done before the rate could matter.
func (s *Control) WALRate(ctx context.Context, first WALSample, stop <-chan struct{}) (rate float64, ok bool, err error) {
	select {
	case <-time.After(time.Until(first.taken.Add(walSampleGap))):
	case <-stop:
		return 0, false, nil
	case <-ctx.Done():
		return 0, false, nil
	}
	var pos float64
	var at time.Time
	qctx, cancel := s.answerWithin(ctx, "the WAL position's query")
	defer cancel()
	if err := s.conn.QueryRow(qctx, first.query).Scan(&pos, &at); err != nil {
		return 0, false, fmt.Errorf("reading the WAL position: %w", Silence(qctx, err))
	}
	if d := at.Sub(first.at).Seconds(); d > 0 {
		rate = (pos - first.pos) / d
	}
	return rate, true, nil
}
