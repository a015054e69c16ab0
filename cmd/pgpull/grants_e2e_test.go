package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestGrantsLetARoleBackUp gives a plain role exactly what `pgpull grants` prints and takes a
// backup with it that restores; with one grant taken back, the backup fails before DEST exists,
// naming the function.
func TestGrantsLetARoleBackUp(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if out, err := src.Pgbench(ctx, "-i", "-q", "-s", "1").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	if err := src.Exec(ctx, `CREATE ROLE "bk user" LOGIN`); err != nil {
		t.Fatal(err)
	}
	var grants bytes.Buffer
	if code, stderr := runCLI(t, &grants, "grants", src.DSN(), "bk user", "--database", "postgres"); code != 0 {
		t.Fatalf("pgpull grants failed (%d): %s", code, stderr)
	}
	t.Logf("grants:\n%s", grants.String())
	// What differs by version: the backup functions' names, and on 13 and 14 the role that may
	// read stats_temp_directory.
	wants := []string{`TO "bk user";`, "\n\\connect \"postgres\"\n", "\n-- ALTER ROLE \"bk user\" REPLICATION;", `GRANT pg_read_all_stats TO "bk user";`,
		// pgpull wal's ways to keep WAL, and which the role can use: not yet a slot; a wal_keep_size
		// (0 here) that a superuser sets.
		`pgpull wal --slot NAME: a replication slot holds the WAL; "bk user" may use one once the`,
		"wal_keep_size is 0MB, and a feed looking every 2s needs 1024MB", "ALTER SYSTEM SET wal_keep_size = '1024MB'"}
	if src.Major < 15 {
		wants = append(wants, "pg_start_backup(text, boolean, boolean)", "pg_stop_backup(boolean, boolean)", `GRANT pg_read_all_settings TO "bk user";`)
	} else {
		wants = append(wants, "pg_backup_start(text, boolean)", "pg_backup_stop(boolean)")
	}
	for _, want := range wants {
		if !strings.Contains(grants.String(), want) {
			t.Errorf("grants lack %q", want)
		}
	}
	// Run as README shows it, from a psql session in another database: the \connect must carry
	// the grants to the database the backup connects to, and the optional line must not run.
	psql := src.Psql(ctx, "-d", "template1")
	psql.Stdin = strings.NewReader(grants.String())
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql -d template1 < grants: %v\n%s", err, out)
	}
	if repl, err := src.QueryString(ctx, `SELECT rolreplication::text FROM pg_roles WHERE rolname = 'bk user'`); err != nil || repl != "false" {
		t.Fatalf("after the grants, REPLICATION is %q (%v); want the optional line left a comment", repl, err)
	}
	if err := src.Exec(ctx, `ALTER ROLE "bk user" REPLICATION`); err != nil {
		t.Fatal(err)
	}
	dsn := roleDSN(src, `'bk user'`)
	base := t.TempDir()

	t.Run("one role missing", func(t *testing.T) {
		// 13 and 14 need pg_read_all_settings besides pg_read_all_stats; take back the one that
		// only they need there, and the stats role elsewhere.
		role := "pg_read_all_stats"
		if src.Major < 15 {
			role = "pg_read_all_settings"
		}
		if err := src.Exec(ctx, `REVOKE `+role+` FROM "bk user"`); err != nil {
			t.Fatal(err)
		}
		defer src.Exec(ctx, `GRANT `+role+` TO "bk user"`)
		dest := filepath.Join(base, "refused-role")
		code, stderr := runCLI(t, nil, "backup", "-c", "fast", dsn, dest)
		if code == 0 || !strings.Contains(stderr, "not a member of "+role) || !strings.Contains(stderr, "pgpull grants") {
			t.Errorf("exit %d, %q; want a failure naming %s and pgpull grants", code, stderr, role)
		}
		checkOneLine(t, stderr)
		if _, err := os.Stat(dest); !os.IsNotExist(err) {
			t.Errorf("refused backup made %s (%v)", dest, err)
		}
		checkServerClean(t, src)
	})

	t.Run("one grant missing", func(t *testing.T) {
		if err := src.Exec(ctx, `REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text) FROM "bk user"`); err != nil {
			t.Fatal(err)
		}
		defer src.Exec(ctx, `GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text) TO "bk user"`)
		dest := filepath.Join(base, "refused")
		code, stderr := runCLI(t, nil, "backup", "-c", "fast", dsn, dest)
		if code == 0 || !strings.Contains(stderr, "pg_stat_file(text),") || !strings.Contains(stderr, "pgpull grants") {
			t.Errorf("exit %d, %q; want a failure naming pg_stat_file(text) and pgpull grants", code, stderr)
		}
		checkOneLine(t, stderr)
		if _, err := os.Stat(dest); !os.IsNotExist(err) {
			t.Errorf("refused backup made %s (%v)", dest, err)
		}
		checkServerClean(t, src)
	})

	t.Run("all grants", func(t *testing.T) {
		dest := filepath.Join(base, "copy")
		code, stderr := runCLI(t, nil, "backup", "-c", "fast", "-v", dsn, dest)
		if code != 0 {
			t.Fatalf("backup as the granted role failed (%d): %s", code, stderr)
		}
		if !strings.Contains(stderr, "temporary slot") {
			t.Errorf("no temporary slot held WAL though the role has REPLICATION:\n%s", stderr)
		}
		checkServerClean(t, src)
		checkModes(t, dest)
		r := testcluster.AdoptForTest(t, dest)
		if err := r.CheckTPCB(ctx); err != nil {
			t.Error(err)
		}
	})
}

// TestGrantsUnknownRole: grants for a role the server does not have fails, printing no SQL that
// would fail half-way in psql, and says to create the role first.
func TestGrantsUnknownRole(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{})
	var out bytes.Buffer
	code, stderr := runCLI(t, &out, "grants", src.DSN(), "nosuchrole")
	if code != 1 || !strings.Contains(stderr, `role "nosuchrole" does not exist on this server: create it first`) {
		t.Errorf("exit %d, stderr %q; want exit 1 saying the role does not exist", code, stderr)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q; want no SQL", out.String())
	}
	checkOneLine(t, stderr)
}
