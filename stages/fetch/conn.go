package fetch

import (
	"bytes"
	"context"

	"github.com/jackc/pgx/v5/pgconn"
)

// Conn is what a worker needs of its server connection: run a query and read its rows one at a
// time. PgConn serves it on a real connection; a test puts a fake in its place to break a read at
// row N, stall, or cancel in the middle of a range.
type Conn interface {
	// Query runs sql with params in paramFormats and asks for the result columns in
	// resultFormats, as pgconn's ExecParams takes them (0 text, 1 binary; nil for all text).
	Query(ctx context.Context, sql string, params [][]byte, paramFormats, resultFormats []int16) Rows
	Close(ctx context.Context) error
}

// Rows are a query's rows.
type Rows interface {
	// Next moves to the next row, false at the end or on an error.
	Next() bool
	// Values are the row's columns, nil for NULL; they are valid until the next call to Next.
	Values() [][]byte
	// Close ends the read and returns the query's error, if any.
	Close() error
}

// PgConn is a Conn on a pgconn connection, which hands bytea rows over without copying them
// through pgx's row scanning.
type PgConn struct{ *pgconn.PgConn }

// Query runs sql through ExecParams.
func (c PgConn) Query(ctx context.Context, sql string, params [][]byte, paramFormats, resultFormats []int16) Rows {
	return pgRows{c.ExecParams(ctx, sql, params, nil, paramFormats, resultFormats)}
}

// binary asks for one bytea column in binary form, half the bytes of its hex text form. A new
// slice each time: pgconn keeps what it is given until the query ends.
func binary() []int16 { return []int16{1} }

type pgRows struct{ rr *pgconn.ResultReader }

func (r pgRows) Next() bool       { return r.rr.NextRow() }
func (r pgRows) Values() [][]byte { return r.rr.Values() }
func (r pgRows) Close() error {
	_, err := r.rr.Close()
	return err
}

// readFirst reads a query that returns one row at most, and copies that row's first column.
func readFirst(rows Rows) ([]byte, error) {
	var v []byte
	if rows.Next() {
		v = bytes.Clone(rows.Values()[0])
		for rows.Next() {
		}
	}
	return v, rows.Close()
}
