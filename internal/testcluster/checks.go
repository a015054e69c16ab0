package testcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// CheckTPCB checks the invariant pgbench's TPC-B transactions keep: each one
// adds the same delta to one account, teller and branch and logs it in
// history, so in any consistent snapshot the four sums agree. A restored
// backup that mixes pages from different moments breaks it.
func (c *Cluster) CheckTPCB(ctx context.Context) error {
	var a, b, t, h int64
	err := c.QueryRow(ctx, `SELECT
		(SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts)::bigint,
		(SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches)::bigint,
		(SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers)::bigint,
		(SELECT coalesce(sum(delta), 0) FROM pgbench_history)::bigint`, nil, &a, &b, &t, &h)
	if err != nil {
		return fmt.Errorf("TPC-B check: %w", err)
	}
	if a != b || b != t || t != h {
		return fmt.Errorf("TPC-B invariant broken: sum(pgbench_accounts.abalance)=%d sum(pgbench_branches.bbalance)=%d sum(pgbench_tellers.tbalance)=%d sum(pgbench_history.delta)=%d", a, b, t, h)
	}
	return nil
}

// Amcheck verifies every table and index in every database with pg_amcheck
// (heap and btree structure, every heap tuple found in its indexes),
// installing the amcheck extension where missing. The server must be
// running. Reading every page also surfaces checksum failures.
func (c *Cluster) Amcheck(ctx context.Context) error {
	if c.Major < 14 {
		return c.amcheckSQL(ctx)
	}
	cmd := c.clientCmd(ctx, "pg_amcheck", "-h", c.SocketDir, "-p", strconv.Itoa(c.Port), "-U", "postgres",
		"--all", "--heapallindexed", "--install-missing", "--no-password")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_amcheck: %w\n%s", err, out)
	}
	return nil
}

// VerifyChecksums runs pg_checksums --check over the data directory. The
// server must be stopped cleanly first, and the cluster must have been made
// with data checksums.
func (c *Cluster) VerifyChecksums(ctx context.Context) error {
	out, err := c.PgChecksums(ctx)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

// PgChecksums runs pg_checksums --check over the stopped cluster and returns what it printed; the
// error is non-nil when it found a bad page or could not run.
func (c *Cluster) PgChecksums(ctx context.Context) (string, error) {
	if _, err := os.Stat(filepath.Join(c.Bindir, "pg_checksums")); err != nil {
		return "", fmt.Errorf("pg_checksums is not in %s (the npm builds of majors other than 15 ship only initdb, pg_ctl and postgres), and another major's refuses this data directory", c.Bindir)
	}
	out, err := c.serverCmd(ctx, "pg_checksums", "--check", "-D", c.DataDir).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("pg_checksums: %w", err)
	}
	return string(out), nil
}

// amcheckSQL is Amcheck for 13, whose amcheck has no verify_heapam, which pg_amcheck calls (and
// 13 ships no pg_amcheck): every btree index is checked with bt_index_check(heapallindexed), and
// every heap is read whole, which makes the server verify each page's checksum.
func (c *Cluster) amcheckSQL(ctx context.Context) error {
	var dbs []string
	err := c.withConn(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT datname::text FROM pg_database WHERE datallowconn ORDER BY 1`)
		if err != nil {
			return err
		}
		dbs, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return fmt.Errorf("amcheck: listing databases: %w", err)
	}
	for _, db := range dbs {
		if err := c.amcheckDatabase(ctx, db); err != nil {
			return fmt.Errorf("amcheck in database %s: %w", db, err)
		}
	}
	return nil
}

func (c *Cluster) amcheckDatabase(ctx context.Context, db string) error {
	cfg, err := pgx.ParseConfig(c.DSN())
	if err != nil {
		return err
	}
	cfg.Database = db
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS amcheck`); err != nil {
		return err
	}
	rows, err := conn.Query(ctx, `SELECT format('SELECT count(*) FROM ONLY %s', c.oid::regclass)
		  FROM pg_class c WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence <> 't'
		UNION ALL
		SELECT format('SELECT bt_index_check(%s, true)', c.oid)
		  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
		 WHERE a.amname = 'btree' AND c.relpersistence <> 't' AND i.indisvalid AND i.indisready`)
	if err != nil {
		return err
	}
	checks, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, q := range checks {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
