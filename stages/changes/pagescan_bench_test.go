package changes

import (
	"context"
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// BenchmarkPageScan measures the page scans on a table of about 200 MB of which a few rows
// changed since the prior start, its file in the server's page cache:
//
//	go test -run '^$' -bench PageScan -benchtime 10x -count 2 ./stages/changes
//
// On 2 shared cores (load 6), 2026-12-07, PostgreSQL 15, 198 MB: SQL windows of 1, 4 and 8 MB
// 44-53 ms, 16 MB 77-86 ms, 32 MB 1.0-1.1 s; SQL page headers 305-382 ms; the helper 32-38 ms.
func BenchmarkPageScan(b *testing.B) {
	ctx := context.Background()
	c := testcluster.ForTest(b, testcluster.Options{Checksums: true, Conf: []string{quietConf}})
	mustExec(b, c, `CREATE TABLE big (id int, pad text);
		INSERT INTO big SELECT g, repeat('b', 500) FROM generate_series(1, 380000) g`)
	mustExec(b, c, `VACUUM (FREEZE) big`)
	mustExec(b, c, `CHECKPOINT`)
	conn := connect(b, c.DSN())
	var since string
	if err := conn.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&since); err != nil {
		b.Fatal(err)
	}
	mustExec(b, c, `UPDATE big SET id = -id WHERE id % 10000 = 0`)
	mustExec(b, c, `CHECKPOINT`)
	layout, err := ReadLayout(ctx, conn)
	if err != nil {
		b.Fatal(err)
	}
	var f Listed
	if err := conn.QueryRow(ctx, `SELECT pg_relation_filepath('big'), pg_relation_size('big')`).Scan(&f.Path, &f.Size); err != nil {
		b.Fatal(err)
	}
	start, err := pgformat.ParseLSN(since)
	if err != nil {
		b.Fatal(err)
	}
	prior := Prior{StartLSN: start, Files: map[string]PriorFile{f.Path: {Size: f.Size}}}
	helper := c.Exec(ctx, HelperSQL("postgres")) == nil
	forms := []struct {
		name   string
		sql    string
		helper bool
		window int64
	}{
		{name: "SQL windows 1MB", window: 1 << 20},
		{name: "SQL windows 4MB", window: 4 << 20},
		{name: "SQL windows 8MB", window: 8 << 20},
		{name: "SQL windows 16MB", window: 16 << 20},
		{name: "SQL windows 32MB", window: 32 << 20},
		{name: "SQL page headers", sql: headerScanSQL()},
		{name: "helper", helper: true},
	}
	for _, form := range forms {
		b.Run(form.name, func(b *testing.B) {
			if form.helper && !helper {
				b.Skip("no working plpython3u")
			}
			m := &PageLSN{Conn: conn, Prior: prior, Layout: layout, Helper: form.helper, Window: form.window, scanSQL: form.sql}
			b.SetBytes(f.Size)
			for b.Loop() {
				got, err := m.Changes(ctx, []Listed{f})
				if err != nil {
					b.Fatal(err)
				}
				if got[0].Whole || len(got[0].Blocks) < 38 {
					b.Fatalf("%s: whole %v (%s), %d blocks; want the 38 updated rows' blocks at least", f.Path, got[0].Whole, got[0].Reason, len(got[0].Blocks))
				}
			}
			b.ReportMetric(float64(f.Size)/(1<<20), "MB/file")
		})
	}
}

// headerScanSQL reads each page's first 8 bytes in a pg_read_binary_file call of its own: the
// server reads 8 KB per page either way, but copies and walks no page bodies.
func headerScanSQL() string {
	return `
SELECT i, n FROM (
    SELECT h.i, h.n, ` + pageLSN("h.h", "0") + ` AS lsn
      FROM (SELECT t.i, b.n, pg_read_binary_file(t.path, b.n * $6::int8, 8, true) AS h
              FROM ` + windowsSQL + `,
                   LATERAL generate_series(t.first, t.first + t.count - 1) AS b(n)
            OFFSET 0) AS h
     WHERE length(h.h) = 8
    OFFSET 0) AS p
 WHERE lsn >= $5::int8 OR lsn = 0`
}
