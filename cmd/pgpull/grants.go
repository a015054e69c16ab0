package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/session"
)

func grantsCommand(stdout, stderr io.Writer) *command {
	var database string
	fs := newFlags("pgpull grants")
	fs.StringVar(&database, "database", "", "the `DATABASE` the backup's DSN connects to, where the grants must go (default: DSN's)")
	serverCompress := fs.Bool("server-compress", false, "also install the helper function that backup --server-compress calls (needs plpython3u)")
	return &command{
		name:  "grants",
		usage: "grants [--server-compress] [DSN] ROLE",
		short: "print the SQL that lets ROLE take backups without superuser",
		long: "Connects to the server DSN names (PG* variables apply; without DSN only they do) to learn its\n" +
			"version and database, and prints the GRANTs a superuser runs for ROLE, after a psql \\connect to\n" +
			"the database they must be granted in (--database, or DSN's). Nothing is changed: pipe it to psql.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			return runGrants(ctx, args, database, *serverCompress, stdout)
		},
	}
}

func runGrants(ctx context.Context, args []string, grantIn string, serverCompress bool, stdout io.Writer) error {
	var dsn, role string
	switch len(args) {
	case 1:
		role = args[0]
	case 2:
		dsn, role = args[0], args[1]
	default:
		return fmt.Errorf("grants needs [DSN] ROLE, got %d arguments; see pgpull grants -h", len(args))
	}
	if role == "" {
		return fmt.Errorf("grants needs a ROLE name")
	}
	cfg, err := parseDSN(dsn)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = "pgpull grants"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return session.ConnectError(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var versionNum int
	var database string
	var exists, super, replication, dbExists, plpython bool
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, coalesce(nullif($2, ''), current_database()::text),
		EXISTS (SELECT FROM pg_roles WHERE rolname = $1), EXISTS (SELECT FROM pg_roles WHERE rolname = $1 AND rolsuper),
		EXISTS (SELECT FROM pg_roles WHERE rolname = $1 AND rolreplication),
		EXISTS (SELECT FROM pg_database WHERE datname = coalesce(nullif($2, ''), current_database())),
		EXISTS (SELECT FROM pg_available_extensions WHERE name = 'plpython3u')`,
		role, grantIn).Scan(&versionNum, &database, &exists, &super, &replication, &dbExists, &plpython)
	if err != nil {
		return fmt.Errorf("reading the server's version: %w", err)
	}
	if !dbExists {
		return fmt.Errorf("the server has no database %q: give --database the one the backup's DSN names", database)
	}
	if err := session.CheckSupported(versionNum, ""); err != nil {
		return err
	}
	r := pgx.Identifier{role}.Sanitize()
	switch {
	case !exists:
		fmt.Fprintf(stdout, "-- %s does not exist on this server yet: CREATE ROLE %s LOGIN PASSWORD '...'; first.\n", r, r)
	case super:
		fmt.Fprintf(stdout, "-- %s is a superuser and needs none of these.\n", r)
	}
	keep, err := session.ReadFeedKeep(ctx, conn)
	if err != nil {
		return err
	}
	sql := session.GrantsSQL(versionNum/10000, database, role) + walFeedGrants(keep, role, replication || super)
	if _, err = io.WriteString(stdout, sql); err != nil || !serverCompress {
		return err
	}
	if !plpython {
		fmt.Fprintf(stdout, "-- plpython3u is not available on this server: install it first (Debian: apt-get install postgresql-plpython3-%d).\n", versionNum/10000)
	}
	_, err = io.WriteString(stdout, session.HelperSQL(role))
	return err
}
