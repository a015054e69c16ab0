package session

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// step is one statement of a preflight or a start: its SQL and arguments, and what reads its
// rows. Steps run together in one round trip (runSteps), which through a 20 ms link is 40 ms
// saved for each statement after the first.
type step struct {
	sql  string
	args []any
	read func(rows pgx.Rows) error
}

// setting is a step that runs a statement without rows, saying what it was for when it fails.
func setting(doing, sql string) step {
	return step{sql: sql, read: func(rows pgx.Rows) error {
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%s: %w", doing, err)
		}
		return nil
	}}
}

// runSteps sends steps as one batch and reads their results in order. The server runs them one
// after the other in one implicit transaction; the first that fails ends the batch, and its
// error (as its read returns it) is runSteps'.
func runSteps(ctx context.Context, conn *pgx.Conn, steps ...step) error {
	b := &pgx.Batch{}
	for _, s := range steps {
		b.Queue(s.sql, s.args...).Query(s.read)
	}
	return conn.SendBatch(ctx, b).Close()
}

// scanOne scans the one row rows hold into dst.
func scanOne(rows pgx.Rows, dst ...any) error {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := rows.Scan(dst...); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// announcedMajor is the major version the server announced when conn opened (its server_version
// parameter, "15.10 (Debian ...)", "17beta1"), so that statements that depend on it can go in
// the same round trip as the one that reads server_version_num. ok is false when it cannot be read.
func announcedMajor(conn *pgx.Conn) (major int, ok bool) {
	return majorOf(conn.PgConn().ParameterStatus("server_version"))
}

// majorOf reads the major version from the front of a server_version.
func majorOf(v string) (major int, ok bool) {
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(v)
	}
	major, err := strconv.Atoi(v[:end])
	return major, err == nil && major > 0
}
