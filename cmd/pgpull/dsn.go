package main

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
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
	return cfg, nil
}
