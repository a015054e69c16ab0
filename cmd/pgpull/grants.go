package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/pipeline/backup"
	"github.com/pgpull/pgpull/stages/control"
)

func grantsCommand(stdout, stderr io.Writer) *command {
	return &command{
		name:  "grants",
		usage: "grants [DSN] ROLE",
		short: "print the SQL that lets ROLE take backups without superuser",
		long: "Connects to the server DSN names (PG* variables apply; without DSN only they do) to learn its\n" +
			"version and database, and prints the GRANTs a superuser runs there for ROLE. Nothing is changed.",
		flags: newFlags("pgpull grants"),
		run: func(ctx context.Context, args []string) error {
			return runGrants(ctx, args, stdout)
		},
	}
}

func runGrants(ctx context.Context, args []string, stdout io.Writer) error {
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
		return backup.ConnectError(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var versionNum int
	var database string
	var exists, super bool
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_database()::text,
		EXISTS (SELECT FROM pg_roles WHERE rolname = $1), EXISTS (SELECT FROM pg_roles WHERE rolname = $1 AND rolsuper)`,
		role).Scan(&versionNum, &database, &exists, &super)
	if err != nil {
		return fmt.Errorf("reading the server's version: %w", err)
	}
	if err := control.CheckSupported(versionNum, ""); err != nil {
		return err
	}
	r := pgx.Identifier{role}.Sanitize()
	switch {
	case !exists:
		fmt.Fprintf(stdout, "-- %s does not exist on this server yet: CREATE ROLE %s LOGIN PASSWORD '...'; first.\n", r, r)
	case super:
		fmt.Fprintf(stdout, "-- %s is a superuser and needs none of these.\n", r)
	}
	_, err = io.WriteString(stdout, control.GrantsSQL(versionNum/10000, database, role))
	return err
}
