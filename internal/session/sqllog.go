package session

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// SQLLog shows each statement a session runs (-d). Set once as the Tracer of the configuration
// every connection is made from, it reaches every pgx session without a logger passed down.
type SQLLog struct {
	Print func(sql string)
}

// TraceQueryStart prints the statement as it is sent.
func (l SQLLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	l.Print(data.SQL)
	return ctx
}

// TraceQueryEnd is part of pgx.QueryTracer; the statement was shown when it started.
func (SQLLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// SQLPrinter is what shows statements on cfg's connections, or nil: the fetch workers' raw
// connections have no tracer, and show their reads with it.
func SQLPrinter(cfg *pgx.ConnConfig) func(string) {
	if cfg == nil {
		return nil
	}
	if l, ok := cfg.Tracer.(SQLLog); ok {
		return l.Print
	}
	return nil
}
