package session

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// privilegesStep checks, before anything starts on the server or in DEST, that the role may call
// every function a run on a server of the given major version will, so a missing grant fails in
// one line here rather than halfway through the copy. Superusers pass every check.
func privilegesStep(major int) step {
	const q = `SELECT current_user::text,
		coalesce((SELECT f FROM unnest($1::text[]) WITH ORDINALITY AS t(f, i)
			WHERE NOT has_function_privilege('pg_catalog.' || f, 'EXECUTE') ORDER BY i LIMIT 1), ''),
		coalesce((SELECT r FROM unnest($2::text[]) WITH ORDINALITY AS t(r, i)
			WHERE NOT pg_has_role(r, 'USAGE') ORDER BY i LIMIT 1), '')`
	roles := Roles(major)
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = r.Name
	}
	return step{sql: q, args: []any{Functions(major), names}, read: func(rows pgx.Rows) error {
		var role, missing, notMember string
		if err := scanOne(rows, &role, &missing, &notMember); err != nil {
			return fmt.Errorf("checking the role's privileges: %w", err)
		}
		return privilegesError(role, missing, notMember, roles)
	}}
}

// privilegesError is the refusal of a role that may not call missing or is not a member of
// notMember, or nil when both are "".
func privilegesError(role, missing, notMember string, roles []Role) error {
	switch {
	case missing != "":
		return fmt.Errorf("role %q may not execute %s, which pgpull calls; as a superuser, run the SQL that `pgpull grants DSN %s` prints",
			role, missing, role)
	case notMember != "":
		why := ""
		for _, r := range roles {
			if r.Name == notMember {
				why = r.Why
			}
		}
		return fmt.Errorf("role %q is not a member of %s, which pgpull needs to %s; as a superuser, run the SQL that `pgpull grants DSN %s` prints",
			role, notMember, why, role)
	}
	return nil
}
