package session

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CheckPrivileges checks, before anything starts on the server or in DEST, that the role may call
// every function a run on a server of the given major version will, so a missing grant fails in
// one line here rather than halfway through the copy. Superusers pass every check.
func CheckPrivileges(ctx context.Context, conn *pgx.Conn, major int, logSQL func(string)) error {
	const q = `SELECT current_user::text,
		coalesce((SELECT f FROM unnest($1::text[]) WITH ORDINALITY AS t(f, i)
			WHERE NOT has_function_privilege('pg_catalog.' || f, 'EXECUTE') ORDER BY i LIMIT 1), ''),
		pg_has_role($2, 'USAGE')`
	logSQL(q)
	var role, missing string
	var stats bool
	if err := conn.QueryRow(ctx, q, Functions(major), StatsRole).Scan(&role, &missing, &stats); err != nil {
		return fmt.Errorf("checking the role's privileges: %w", err)
	}
	switch {
	case missing != "":
		return fmt.Errorf("role %q may not execute %s, which pgpull calls; as a superuser, run the SQL that `pgpull grants DSN %s` prints",
			role, missing, role)
	case !stats:
		return fmt.Errorf("role %q is not a member of %s, which pgpull needs to count the server's free connections; as a superuser, run the SQL that `pgpull grants DSN %s` prints",
			role, StatsRole, role)
	}
	return nil
}
