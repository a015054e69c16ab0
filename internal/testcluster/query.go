package testcluster

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Connect opens a new connection to the postgres database; the caller closes it.
func (c *Cluster) Connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, c.DSN())
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.DSN(), err)
	}
	return conn, nil
}

// ConnectDB opens a connection to database db as the superuser.
func (c *Cluster) ConnectDB(ctx context.Context, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(c.DSN())
	if err != nil {
		return nil, err
	}
	cfg.Database = db
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s in %s: %w", db, c.DSN(), err)
	}
	return conn, nil
}

// withConn runs f on a fresh connection. A connection per call keeps the
// Cluster free of pools to close and safe to use from many goroutines.
func (c *Cluster) withConn(ctx context.Context, f func(*pgx.Conn) error) error {
	conn, err := c.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return f(conn)
}

// Exec runs sql. Without args it uses the simple protocol, so sql may hold
// several statements.
func (c *Cluster) Exec(ctx context.Context, sql string, args ...any) error {
	return c.withConn(ctx, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("exec %q: %w", sql, err)
		}
		return nil
	})
}

// QueryRow scans the first row of sql into dest.
func (c *Cluster) QueryRow(ctx context.Context, sql string, args []any, dest ...any) error {
	return c.withConn(ctx, func(conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
			return fmt.Errorf("query %q: %w", sql, err)
		}
		return nil
	})
}

// QueryInt returns the single integer sql yields (integer or integral numeric).
func (c *Cluster) QueryInt(ctx context.Context, sql string, args ...any) (int64, error) {
	var v int64
	err := c.QueryRow(ctx, sql, args, &v)
	return v, err
}

// QueryString returns the single text value sql yields; cast non-text
// columns with ::text.
func (c *Cluster) QueryString(ctx context.Context, sql string, args ...any) (string, error) {
	var v string
	err := c.QueryRow(ctx, sql, args, &v)
	return v, err
}
