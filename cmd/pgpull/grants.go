package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/stages/changes"
)

func grantsCommand(stdin *os.File, stdout, stderr io.Writer) *command {
	var database string
	var conn connFlags
	fs := newFlags("pgpull grants")
	fs.StringVar(&database, "database", "", "the `DATABASE` the backup's DSN connects to, where the grants must go (default: DSN's)")
	serverCompress := fs.Bool("server-compress", false, "also install the helper function that backup --server-compress calls (needs plpython3u)")
	incremental := fs.Bool("incremental", false, "also install the helper that finds changed pages for backup --incremental-from faster (needs plpython3u)")
	conn.add(fs)
	return &command{
		name:  "grants",
		usage: "grants [--server-compress] [--incremental] [DSN] ROLE",
		short: "print the SQL that lets ROLE take backups without superuser",
		long: "Connects to the server DSN names (or -d, -h, -p, -U; PG* variables apply) to learn its version\n" +
			"and database, and prints the GRANTs a superuser runs for ROLE, after a psql \\connect to the\n" +
			"database they must be granted in (--database, or DSN's). Nothing is changed: pipe it to psql.\n" +
			"ROLE must exist on the server.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			dsn, role, err := grantsArguments(args, conn)
			if err != nil {
				return usageError(err)
			}
			cfg, err := conn.config(dsn, stdin, stderr)
			if err != nil {
				return err
			}
			return runGrants(ctx, cfg, role, database, helpers{serverCompress: *serverCompress, incremental: *incremental}, stdout)
		},
	}
}

// grantsArguments reads [DSN] ROLE, and checks the connection flags.
func grantsArguments(args []string, conn connFlags) (dsn, role string, err error) {
	switch len(args) {
	case 1:
		role = args[0]
	case 2:
		dsn, role = args[0], args[1]
	default:
		return "", "", fmt.Errorf("grants needs [DSN] ROLE, got %d %s; see pgpull grants --help", len(args), plural(len(args), "argument", "arguments"))
	}
	if role == "" {
		return "", "", fmt.Errorf("grants needs a ROLE name")
	}
	return dsn, role, conn.check(dsn)
}

// helpers are the optional PL/Python functions grants installs beside the grants.
type helpers struct{ serverCompress, incremental bool }

func runGrants(ctx context.Context, cfg *pgx.ConnConfig, role, grantIn string, with helpers, stdout io.Writer) error {
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
		return fmt.Errorf("role %s does not exist on this server: create it first (CREATE ROLE %s LOGIN), then run pgpull grants again", r, r)
	case super:
		fmt.Fprintf(stdout, "-- %s is a superuser and needs none of these.\n", r)
	}
	keep, err := session.ReadFeedKeep(ctx, conn)
	if err != nil {
		return err
	}
	sql := session.GrantsSQL(versionNum/10000, database, role) + walFeedGrants(keep, role, replication || super)
	if _, err = io.WriteString(stdout, sql); err != nil || !with.serverCompress && !with.incremental {
		return err
	}
	if !plpython {
		fmt.Fprintf(stdout, "-- plpython3u is not available on this server: install it first (Debian: apt-get install postgresql-plpython3-%d).\n", versionNum/10000)
	}
	if with.serverCompress {
		if _, err = io.WriteString(stdout, session.HelperSQL(role)); err != nil {
			return err
		}
	}
	if with.incremental {
		_, err = io.WriteString(stdout, changes.HelperSQL(role))
	}
	return err
}
