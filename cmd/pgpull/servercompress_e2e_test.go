package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/internal/testcluster"
	"github.com/pgpull/pgpull/stages/fetch"
)

// TestServerCompress installs the helper as `pgpull grants --server-compress` prints it for a
// plain role, and holds it to what README promises: a backup through it under load restores
// consistent; it reads nothing outside the data directory; a role without EXECUTE, a server
// without the helper and a helper of another version each fail the backup in one line that
// names the way out, before DEST exists; the codec -v and --summary report is the fastest the
// server's Python has (lz4, else zstd, else zlib), or the one asked for; and each of them, as
// helper_codecs lists it when the others are missing, returns a relation's bytes exactly.
func TestServerCompress(t *testing.T) {
	ctx := context.Background()
	// track_functions counts the helper's calls, to show the backup read through it.
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true, Conf: []string{"track_functions = 'pl'"}})
	requirePlpython(t, src)
	addUnlogged(t, src)
	if out, err := src.Pgbench(ctx, "-i", "-q", "-s", "10").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	if err := src.Exec(ctx, `CREATE ROLE bk LOGIN; CREATE ROLE other LOGIN`); err != nil {
		t.Fatal(err)
	}
	var plain, withHelper bytes.Buffer
	if code, stderr := runCLI(t, &plain, "grants", src.DSN(), "bk"); code != 0 {
		t.Fatalf("pgpull grants failed (%d): %s", code, stderr)
	}
	if code, stderr := runCLI(t, &withHelper, "grants", "--server-compress", src.DSN(), "bk"); code != 0 {
		t.Fatalf("pgpull grants --server-compress failed (%d): %s", code, stderr)
	}
	applySQL(t, src, plain.String())
	dsn := roleDSN(src, "bk")
	base := t.TempDir()

	refused := func(t *testing.T, want ...string) {
		t.Helper()
		dest := filepath.Join(base, "refused")
		code, stderr := runCLI(t, nil, "backup", "--server-compress", "-c", "fast", dsn, dest)
		if code == 0 {
			t.Fatalf("backup succeeded; want it refused")
		}
		for _, w := range append(want, "pgpull grants --server-compress") {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr lacks %q: %s", w, stderr)
			}
		}
		checkOneLine(t, stderr)
		checkGone(t, dest)
		checkServerClean(t, src)
	}

	t.Run("helper not installed", func(t *testing.T) { refused(t, "lacks") })
	t.Run("auto without the helper", func(t *testing.T) {
		// =auto copies as without it, and says why in -v and --summary.
		sum := autoBackup(t, dsn, filepath.Join(base, "auto-off"), "off: --server-compress needs pgpull's helper function, which this server lacks")
		if strings.Contains(sum, `"server_compress":`) {
			t.Errorf("--summary names a codec for a backup that did not compress: %s", sum)
		}
	})

	applySQL(t, src, withHelper.String())

	t.Run("auto over a slow link", func(t *testing.T) {
		// 2 MB/s per connection: pgbench's pages shrink to a tenth with lz4 and a twentieth with
		// zstd, which the helper makes far faster than the link would carry them: zstd's smaller
		// output pays.
		link := startSlowLink(t, fmt.Sprintf("127.0.0.1:%d", src.Port), 2<<20)
		before := helperCalls(t, src)
		linkDSN := fmt.Sprintf("host=127.0.0.1 port=%d user=bk dbname=postgres sslmode=disable", link.Port())
		sum := autoBackup(t, linkDSN, filepath.Join(base, "auto-on"), "--server-compress=auto: on: 1024 kB of base/")
		want := serverPythonCodecs(t, src)[0]
		if slices.Contains(serverPythonCodecs(t, src), "zstd") {
			want = "zstd"
		}
		if want := `"server_compress":"` + want + `"`; !strings.Contains(sum, want) {
			t.Errorf("--summary lacks %s: %s", want, sum)
		}
		if after := helperCalls(t, src); after <= before+1 {
			t.Errorf("the helper was called %d times during the backup; want the fetch workers to read through it", after-before)
		}
		checkServerClean(t, src)
	})

	t.Run("auto on the local socket says what it weighed", func(t *testing.T) {
		// Whichever it decides here, where the link is as fast as the helper, it names the figures.
		autoBackup(t, dsn, filepath.Join(base, "auto-local"), "compressed to", "MB/s per connection", "CPUs for 2 jobs")
	})

	t.Run("reads only inside the data directory", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var v []byte
		if err := conn.QueryRow(ctx, `SELECT pgpull.read_compressed('PG_VERSION', 0, 100, 'zlib')`).Scan(&v); err != nil {
			t.Fatalf("reading PG_VERSION through the helper: %v", err)
		}
		t.Logf("PG_VERSION through the helper with zlib: tag %q ('Z' zlib, 'R' as it is)", v[:1])
		var c fetch.Compressed
		if got, err := c.Append(nil, v, 100); err != nil || !regexp.MustCompile(`^\d+\n$`).Match(got) {
			t.Errorf("PG_VERSION through the helper: %q, %v", got, err)
		}
		for _, path := range []string{"/etc/passwd", src.DataDir + "/PG_VERSION", "../PG_VERSION",
			"base/../../PG_VERSION", "pg_tblspc/../..", ".."} {
			err := conn.QueryRow(ctx, `SELECT pgpull.read_compressed($1, 0, 100, 'zlib')`, path).Scan(&v)
			if err == nil || !strings.Contains(err.Error(), "relative to the data directory") {
				t.Errorf("read_compressed(%q): %v; want it refused", path, err)
			}
		}
		other, err := pgx.Connect(ctx, roleDSN(src, "other"))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close(ctx)
		if err := conn.QueryRow(ctx, `SELECT pgpull.read_compressed('PG_VERSION', 0, 100, 'bzip2')`).Scan(&v); err == nil ||
			!strings.Contains(err.Error(), "no codec 'bzip2'") {
			t.Errorf("read_compressed with codec bzip2: %v; want it refused", err)
		}
		if err := other.QueryRow(ctx, `SELECT pgpull.read_compressed('PG_VERSION', 0, 100, 'zlib')`).Scan(&v); err == nil ||
			!strings.Contains(err.Error(), "permission denied") {
			t.Errorf("a role the helper was not granted to called it: %v", err)
		}
	})

	// The server here may have lz4 and zstandard; a session that hides them from its Python (all
	// of a backend's PL/Python functions share one interpreter) is a server without them.
	t.Run("each codec the server's Python may have", func(t *testing.T) {
		rel, err := src.QueryString(ctx, `SELECT pg_relation_filepath('pgbench_accounts')`)
		if err != nil {
			t.Fatal(err)
		}
		have := serverPythonCodecs(t, src)
		without := func(hidden ...string) []string {
			var left []string
			for _, c := range have {
				if !slices.Contains(hidden, c) {
					left = append(left, c)
				}
			}
			return left
		}
		for _, tc := range []struct {
			hide   []string // Python modules
			codecs []string
		}{
			{nil, have},
			{[]string{"lz4", "lz4.block"}, without("lz4")},
			{[]string{"lz4", "lz4.block", "zstandard"}, []string{"zlib"}},
		} {
			conn, err := pgx.Connect(ctx, src.DSN())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			for _, m := range tc.hide {
				if _, err := conn.Exec(ctx, fmt.Sprintf(`DO $$ import sys; sys.modules[%q] = None $$ LANGUAGE plpython3u`, m)); err != nil {
					t.Fatal(err)
				}
			}
			var codecs []string
			if err := conn.QueryRow(ctx, `SELECT `+session.HelperCodecsFunc).Scan(&codecs); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(codecs, tc.codecs) {
				t.Errorf("hiding %v: helper_codecs() = %q; want %q", tc.hide, codecs, tc.codecs)
			}
			for _, codec := range []string{"zstd", "lz4", "zlib"} {
				var compressed, plain []byte
				err := conn.QueryRow(ctx, `SELECT pgpull.read_compressed($1, 8192, 1048576, $2), pg_read_binary_file($1, 8192, 1048576)`,
					rel, codec).Scan(&compressed, &plain)
				if !slices.Contains(tc.codecs, codec) {
					if err == nil || !strings.Contains(err.Error(), "lacks the module for "+codec) {
						t.Errorf("hiding %v: read_compressed with %s: %v; want it refused", tc.hide, codec, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				tag := map[string]string{"lz4": "L", "zstd": "S", "zlib": "Z"}[codec]
				c := fetch.Compressed{Codec: codec}
				got, err := c.Append(nil, compressed, 1048576)
				if string(compressed[:1]) != tag || err != nil || !bytes.Equal(got, plain) {
					t.Errorf("hiding %v: 1 MB of %s through the helper with %s: tag %q (want %q), %d bytes of %d equal, %v",
						tc.hide, rel, codec, compressed[:1], tag, len(got), len(plain), err)
				}
			}
		}
	})

	t.Run("a codec asked for", func(t *testing.T) {
		codec := "zlib" // not the default, which has its own subtest: zstd where the server has it
		if slices.Contains(serverPythonCodecs(t, src), "zstd") {
			codec = "zstd"
		}
		dest := filepath.Join(base, "asked")
		code, stderr := runCLI(t, nil, "backup", "--server-compress="+codec, "-j", "2", "-c", "fast", "-v", dsn, dest)
		if code != 0 {
			t.Fatalf("backup --server-compress=%s failed (%d): %s", codec, code, stderr)
		}
		if want := "the server's helper compresses with " + codec + " (it has "; !strings.Contains(stderr, want) {
			t.Errorf("-v lacks %q:\n%s", want, stderr)
		}
		if code, stderr := runCLI(t, nil, "verify", dest); code != 0 {
			t.Errorf("pgpull verify of the backup through %s failed (%d): %s", codec, code, stderr)
		}
	})

	t.Run("role without EXECUTE", func(t *testing.T) {
		if err := src.Exec(ctx, `REVOKE EXECUTE ON FUNCTION `+session.HelperRead+` FROM bk`); err != nil {
			t.Fatal(err)
		}
		defer src.Exec(ctx, `GRANT EXECUTE ON FUNCTION `+session.HelperRead+` TO bk`)
		refused(t, `role "bk" may not call`)
	})

	t.Run("helper of an older version", func(t *testing.T) {
		// Version 5 as it was installed: no helper_codecs yet.
		if err := src.Exec(ctx, `DROP FUNCTION pgpull.helper_codecs();
			CREATE OR REPLACE FUNCTION pgpull.helper_version() RETURNS int LANGUAGE sql AS 'SELECT 5'`); err != nil {
			t.Fatal(err)
		}
		refused(t, "version 5", fmt.Sprintf("needs version %d", session.HelperVersion), "to upgrade it")
		if err := src.Exec(ctx, `CREATE OR REPLACE FUNCTION pgpull.helper_version() RETURNS int LANGUAGE sql AS 'SELECT 0'`); err != nil {
			t.Fatal(err)
		}
		refused(t, "version 0", "to upgrade it")
		// The upgrade is what the line says: the SQL of pgpull grants --server-compress, again.
		applySQL(t, src, withHelper.String())
	})

	t.Run("backup under load restores", func(t *testing.T) {
		codec := serverPythonCodecs(t, src)[0]
		load := startLoad(t, src)
		dest, summaryFile := filepath.Join(base, "copy"), filepath.Join(base, "summary.json")
		code, stderr := runCLI(t, nil, "backup", "--server-compress", "-j", "4", "-c", "fast", "-v", "--summary", summaryFile, dsn, dest)
		load.stop(t)
		if code != 0 {
			t.Fatalf("backup --server-compress failed (%d): %s", code, stderr)
		}
		if want := "the server's helper compresses with " + codec + " (it has "; !strings.Contains(stderr, want) {
			t.Errorf("-v lacks %q:\n%s", want, stderr)
		}
		sum, err := os.ReadFile(summaryFile)
		if err != nil {
			t.Fatal(err)
		}
		if want := `"server_compress":"` + codec + `"`; !strings.Contains(string(sum), want) {
			t.Errorf("--summary lacks %s: %s", want, sum)
		}
		checkServerClean(t, src)
		calls, err := src.QueryInt(ctx, `SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions
			WHERE schemaname = 'pgpull' AND funcname = 'read_compressed'`)
		if err != nil || calls == 0 {
			t.Errorf("the helper was called %d times (%v); want the backup to read through it", calls, err)
		}
		checkRestored(t, testcluster.AdoptForTest(t, dest))
	})
}

// autoBackup takes a plain backup with --server-compress=auto -v and -j 2, and returns its
// summary, failing t unless the backup succeeds and -v and the summary say each of want.
func autoBackup(t *testing.T, dsn, dest string, want ...string) string {
	t.Helper()
	summaryFile := dest + ".json"
	code, stderr := runCLI(t, nil, "backup", "--server-compress=auto", "-j", "2", "-c", "fast", "-v", "--summary", summaryFile, dsn, dest)
	if code != 0 {
		t.Fatalf("backup --server-compress=auto failed (%d): %s", code, stderr)
	}
	sum, err := os.ReadFile(summaryFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("-v lacks %q:\n%s", w, stderr)
		}
		if !strings.Contains(string(sum), strings.TrimPrefix(w, "--server-compress=auto: ")) {
			t.Errorf("--summary's server_compress_auto lacks %q: %s", w, sum)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, "PG_VERSION")); err != nil {
		t.Errorf("the backup lacks PG_VERSION: %v", err)
	}
	return string(sum)
}

// helperCalls is how many times the server-compress helper has been called, as track_functions
// counts them.
func helperCalls(t *testing.T, c *testcluster.Cluster) int64 {
	t.Helper()
	n, err := c.QueryInt(context.Background(), `SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions
		WHERE schemaname = 'pgpull' AND funcname = 'read_compressed'`)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// serverPythonCodecs are the codecs README promises the helper has, from the modules the server's
// own Python imports (plpython3u embeds the system's libpython, not the python3 first on PATH):
// lz4 with python3-lz4, zstd with python3-zstandard, and zlib always, the fastest first.
func serverPythonCodecs(t *testing.T, c *testcluster.Cluster) []string {
	t.Helper()
	var have []string
	for _, m := range []struct{ module, codec string }{{"lz4.block", "lz4"}, {"zstandard", "zstd"}} {
		if pythonImports(t, c, m.module) {
			have = append(have, m.codec)
		}
	}
	return append(have, "zlib")
}

// pythonImports reports whether the server's Python imports module.
func pythonImports(t *testing.T, c *testcluster.Cluster, module string) bool {
	t.Helper()
	ctx := context.Background()
	if err := c.Exec(ctx, `CREATE OR REPLACE FUNCTION public.pgpull_test_imports(m text) RETURNS bool LANGUAGE plpython3u AS $$
import importlib
try:
    importlib.import_module(m)
    return True
except ImportError:
    return False
$$`); err != nil {
		t.Fatal(err)
	}
	var has bool
	if err := c.QueryRow(ctx, `SELECT public.pgpull_test_imports($1)`, []any{module}, &has); err != nil {
		t.Fatal(err)
	}
	return has
}

// applySQL runs what pgpull grants printed as README says: piped to psql.
func applySQL(t *testing.T, c *testcluster.Cluster, sql string) {
	t.Helper()
	psql := c.Psql(context.Background(), "-d", "template1")
	psql.Stdin = strings.NewReader(sql)
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql < the SQL of pgpull grants: %v\n%s\n%s", err, out, sql)
	}
}

// requirePlpython fails t, saying how to install it, when the server lacks PL/Python.
func requirePlpython(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	ctx := context.Background()
	n, err := c.QueryInt(ctx, `SELECT count(*) FROM pg_available_extensions WHERE name = 'plpython3u'`)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		major, _ := c.QueryInt(ctx, `SELECT current_setting('server_version_num')::int / 10000`)
		t.Fatalf("the test server (%s) lacks plpython3u: apt-get install postgresql-plpython3-%d "+
			"(Debian ships it for the distribution's own major only)", c.Bindir, major)
	}
}
