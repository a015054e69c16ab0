package changes

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/testcluster"
)

func serverMajor(t *testing.T) int {
	t.Helper()
	b, err := testcluster.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	return b.Major
}

// TestSummariesFindChanges reads the WAL summaries of a cluster changed in known ways since a
// prior backup's start, as a role with only pgpull's grants.
func TestSummariesFindChanges(t *testing.T) {
	if major := serverMajor(t); major < 17 {
		t.Skipf("PostgreSQL %d has no WAL summaries; TestSummariesRefuse covers it", major)
	}
	ctx := context.Background()
	sc := newScenario(t, "summarize_wal = on")
	conn := sc.roleConn(t)
	// A prior backup that held the new database's pg_class (as one would under a reused OID) shows
	// the summaries' mark of a created database.
	prior := sc.prior
	prior.Files = maps.Clone(prior.Files)
	marked := sc.newDB + "/1259"
	prior.Files[marked] = PriorFile{Size: 8192}
	m := &Summaries{Conn: conn, Prior: prior, Layout: sc.layout, StartLSN: sc.start, Timeline: sc.tli}
	got, err := m.Changes(ctx, sc.files)
	if err != nil {
		t.Fatal(err)
	}
	sc.check(t, got)
	byPath := sc.answers(t, got)
	if f := byPath[sc.paths["regrow"]]; !f.Whole || !strings.Contains(f.Reason, "truncated to block 0") {
		t.Errorf("regrow, emptied by VACUUM and filled again: %+v; want it whole for its limit 0", f)
	}
	f, ok := byPath[marked]
	if !ok || !f.Whole || !strings.Contains(f.Reason, "database was created or dropped") {
		t.Errorf("%s, in the database created since: %+v; want it whole for its database", marked, f)
	}
	// A start the summarizer cannot reach: the wait ends at its bound.
	m.StartLSN, m.Wait = sc.start+1<<40, 300*time.Millisecond
	_, err = m.Changes(ctx, sc.files)
	checkUnusable(t, err, "not this backup's start "+m.StartLSN.String()+" on timeline 1, within 300ms", false)
}

// TestSummariesRefuse holds the summaries method to refusing, with an UnusableError that says
// how to turn summaries on, where there are none (before 17, summarize_wal off) or they were
// turned on after the prior backup; and Fallback to comparing page LSNs then, saying so in a line.
func TestSummariesRefuse(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t)
	conn := sc.roleConn(t)
	m := &Summaries{Conn: conn, Prior: sc.prior, Layout: sc.layout, StartLSN: sc.start, Timeline: sc.tli, Wait: time.Minute}
	want := "summarize_wal is off"
	if sc.c.Major < 17 {
		want = fmt.Sprintf("PostgreSQL %d has none", sc.c.Major)
	}
	_, err := m.Changes(ctx, sc.files)
	checkUnusable(t, err, want, sc.c.Major >= 17)

	var lines []string
	fb := &Fallback{First: m, Then: &PageLSN{Conn: conn, Prior: sc.prior, Layout: sc.layout},
		Log: func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }}
	got, err := fb.Changes(ctx, sc.files)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], want) || !strings.Contains(lines[0], "comparing page LSNs instead") || fb.Ran != fb.Then {
		t.Errorf("Fallback said %q and ran %s; want one line on falling back to page LSNs", lines, fb.Ran.Name())
	}
	sc.check(t, got)

	if sc.c.Major < 17 {
		return
	}
	// Turned on after the prior backup: the summaries begin after its start.
	stopBackup(t, sc.backup, sc.c.Major)
	mustExec(t, sc.c, `ALTER SYSTEM SET summarize_wal = on`)
	mustExec(t, sc.c, `SELECT pg_reload_conf()`)
	waitSetting(t, conn, "summarize_wal", "on")
	m.StartLSN, m.Timeline = startBackup(t, sc.backup, sc.c.Major, "after turning summaries on")
	_, err = m.Changes(ctx, sc.files)
	checkUnusable(t, err, "after the prior backup's start "+sc.prior.StartLSN.String(), true)
}

func checkUnusable(t *testing.T, err error, want string, hintsOn bool) {
	t.Helper()
	var u *UnusableError
	switch {
	case !errors.As(err, &u) || !strings.Contains(err.Error(), want):
		t.Errorf("Changes: %v; want an UnusableError saying %q", err, want)
	case hintsOn && !strings.Contains(err.Error(), EnableSummaries):
		t.Errorf("Changes: %v; want it to say how to turn summaries on", err)
	}
}

// waitSetting waits until conn's session sees name set to value: a reload reaches each backend
// when it next reads a command.
func waitSetting(t *testing.T, conn *pgx.Conn, name, value string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for tick := time.NewTicker(20 * time.Millisecond); ; <-tick.C {
		var v string
		if err := conn.QueryRow(context.Background(), `SELECT current_setting($1)`, name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v == value {
			tick.Stop()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still %q after a minute; want %q", name, v, value)
		}
	}
}
