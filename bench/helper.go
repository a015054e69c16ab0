package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/jackc/pgx/v5"
)

// installHelper installs pgpull's server-compress helper on the target as its README says: the
// SQL of pgpull grants --server-compress, piped to psql, for the role the bench connects as.
func (t *target) installHelper(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(t.dsn)
	if err != nil {
		return err
	}
	sql, err := exec.CommandContext(ctx, t.pgpull, "grants", "--server-compress", t.dsn, cfg.User).Output()
	if err != nil {
		return fmt.Errorf("pgpull grants --server-compress: %w", err)
	}
	psql := exec.CommandContext(ctx, filepath.Join(t.bindir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", t.dsn)
	psql.Stdin = bytes.NewReader(sql)
	if out, err := psql.CombinedOutput(); err != nil {
		return fmt.Errorf("installing the server-compress helper: %v\n%s", err, out)
	}
	return nil
}
