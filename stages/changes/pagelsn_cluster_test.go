package changes

import (
	"context"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestPageLSNFindsChanges runs each page scan, as a role with only pgpull's grants, over a
// cluster changed in known ways since a prior backup's start.
func TestPageLSNFindsChanges(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t)
	conn := sc.roleConn(t)
	forms := []struct {
		name           string
		sql            string
		helper         bool
		window, rounds int64
	}{
		{name: "windows in SQL"},
		{name: "small windows, several round trips", window: 1 << 20, rounds: 3 << 20},
		{name: "page headers in SQL", sql: headerScanSQL()},
		{name: "helper", helper: true},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			if f.helper {
				installHelper(t, sc)
				ok, why, err := CheckHelper(ctx, conn)
				if err != nil || !ok {
					t.Fatalf("CheckHelper after installing it: %v, %v (%s)", ok, err, why)
				}
			}
			m := &PageLSN{Conn: conn, Prior: sc.prior, Layout: sc.layout, Helper: f.helper, Window: f.window, RoundTrip: f.rounds, scanSQL: f.sql}
			got, err := m.Changes(ctx, sc.files)
			if err != nil {
				t.Fatal(err)
			}
			sc.check(t, got)
		})
	}
}

// installHelper installs the page-LSN helper for role bk as a superuser would, first checking
// that CheckHelper says it is missing; it skips t on a server without a working PL/Python, but
// for the Debian 15 the tests run on by default, which must have it.
func installHelper(t *testing.T, sc *scenario) {
	t.Helper()
	ctx := context.Background()
	// The embedded builds of other majors list plpython3u but link a libpython this machine lacks.
	if err := sc.c.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS plpython3u`); err != nil {
		if sc.c.Major != 15 {
			t.Skipf("PostgreSQL %d here has no working plpython3u: %v", sc.c.Major, err)
		}
		t.Fatalf("the test server lacks plpython3u (apt-get install postgresql-plpython3-15): %v", err)
	}
	conn := connect(t, strings.Replace(sc.c.DSN(), "user=postgres", "user=bk", 1))
	if ok, why, err := CheckHelper(ctx, conn); err != nil || ok || !strings.Contains(why, "lacks pgpull's page-LSN helper") {
		t.Fatalf("CheckHelper before installing it: %v, %v (%s)", ok, err, why)
	}
	psql := sc.c.Psql(ctx, "-d", "postgres")
	psql.Stdin = strings.NewReader(HelperSQL("bk"))
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql < HelperSQL: %v\n%s", err, out)
	}
}

// TestHelperReadsOnlyTheDataDirectory holds the SECURITY DEFINER helper to what
// pg_read_binary_file allows the role: no absolute paths, no way out through "..".
func TestHelperReadsOnlyTheDataDirectory(t *testing.T) {
	ctx := context.Background()
	c := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	sc := &scenario{c: c}
	conn := sc.roleConn(t)
	installHelper(t, sc)
	for _, p := range []string{"/etc/passwd", "../data/global/1262", "base/../../x", ""} {
		_, err := conn.Exec(ctx, helperScanSQL, []int32{1}, []string{p}, []int64{0}, []int64{1}, int64(0), int32(8192))
		if err == nil || !strings.Contains(err.Error(), "reads only paths relative to the data directory") {
			t.Errorf("the helper on %q: %v; want it refused", p, err)
		}
	}
	var n int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pgpull.changed_pages('{1}', '{global/1262}', '{0}', '{1}', 0, 8192)`).Scan(&n); err != nil || n != 1 {
		t.Errorf("the helper on global/1262 since 0/0: %d pages, %v; want 1", n, err)
	}
}
