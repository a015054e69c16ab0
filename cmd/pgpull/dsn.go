package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/session"
)

// parseDSN reads a libpq connection string or URI. Its error names the problem but not the DSN:
// pgx masks the password in the DSN it quotes, but only where it recognises one.
func parseDSN(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			msg = msg[i+len("`: "):]
		}
		return nil, fmt.Errorf("invalid DSN: %s", msg)
	}
	// Keepalives and connect_timeout: the DSN's, else defaults that notice a silent network.
	if err := session.SetNetwork(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// showSQL makes every session made from cfg print its statements to w (--show-sql), which must take
// writes from many goroutines.
func showSQL(cfg *pgx.ConnConfig, debug bool, w io.Writer) {
	if !debug {
		return
	}
	cfg.Tracer = session.SQLLog{Print: func(sql string) { fmt.Fprintf(w, "pgpull: SQL: %s\n", oneLine(sql)) }}
}
