package pgformat

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat/walfixture"
	"github.com/pgpull/pgpull/internal/testcluster"
)

var update = flag.Bool("update", false, "rewrite the WAL fixture in testdata/ from a fresh cluster")

// TestWALCheckerOnFreshWAL makes WAL on a scratch PostgreSQL cluster with 1 MiB segments, the way
// a backup sees it (between pg_backup_start and pg_backup_stop, with a record longer than a
// segment), and runs every case of the fixture test on it: the checker accepts it whole and
// finds each kind of damage. With -update it rewrites the fixture the other tests use.
func TestWALCheckerOnFreshWAL(t *testing.T) {
	f := makeWAL(t)
	checkWALCases(t, f)
	if *update && !t.Failed() {
		if err := writeWALFixture(walfixture.Dir(), f); err != nil {
			t.Fatal(err)
		}
	}
}

// makeWAL runs a backup's worth of writes on a fresh cluster and copies the WAL from its start
// through its stop.
func makeWAL(t *testing.T) *walFixture {
	t.Helper()
	ctx := context.Background()
	const segSize = 1 << 20
	c := testcluster.ForTest(t, testcluster.Options{Checksums: true, WALSegSizeMB: 1, Conf: []string{"wal_keep_size = 64MB"}})
	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var startText, stopText, version string
	var timeline uint32
	var sysid int64
	// 13 and 14 name the backup functions differently; the WAL of each major has its own magic.
	startSQL, stopSQL := `SELECT pg_backup_start('walcheck', true)::text`, `SELECT lsn::text FROM pg_backup_stop(true)`
	if c.Major < 15 {
		startSQL, stopSQL = `SELECT pg_start_backup('walcheck', true, false)::text`, `SELECT lsn::text FROM pg_stop_backup(false, true)`
	}
	if err := conn.QueryRow(ctx, startSQL).Scan(&startText); err != nil {
		t.Fatal(err)
	}
	writes := []string{
		`CREATE TABLE w (id int PRIMARY KEY, v text)`,
		`INSERT INTO w SELECT i, md5(i::text) FROM generate_series(1, 1000) AS i`,
		// One record of 2.4 MB: it crosses every page of a segment and two segments' ends.
		`SELECT pg_logical_emit_message(false, 'walcheck', repeat('pgpull', 400000))`,
		`UPDATE w SET v = v || 'x' WHERE id % 7 = 0`,
	}
	for _, q := range writes {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := conn.QueryRow(ctx, stopSQL).Scan(&stopText); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT timeline_id, (SELECT system_identifier FROM pg_control_system()),
		current_setting('server_version_num') FROM pg_control_checkpoint()`).Scan(&timeline, &sysid, &version); err != nil {
		t.Fatal(err)
	}
	start, err := ParseLSN(startText)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := ParseLSN(stopText)
	if err != nil {
		t.Fatal(err)
	}
	num, err := strconv.Atoi(version)
	if err != nil {
		t.Fatal(err)
	}
	magic, ok := WALPageMagic(num / 10000)
	if !ok {
		t.Fatalf("server version %s has no known WAL page magic", version)
	}
	f := &walFixture{r: WALRange{Start: start, Stop: stop, Timeline: timeline, SegmentSize: segSize,
		Magic: magic, SystemID: uint64(sysid)}}
	for s := SegmentOf(start, segSize); s <= LastSegmentBefore(stop, segSize); s++ {
		b, err := os.ReadFile(filepath.Join(c.DataDir, "pg_wal", s.Name(timeline, segSize)))
		if err != nil {
			t.Fatal(err)
		}
		f.segments = append(f.segments, b)
	}
	t.Logf("WAL %s to %s on timeline %d: %d segments", start, stop, timeline, len(f.segments))
	return f
}

// BenchmarkWALCheckerPgbench walks WAL as a busy server writes it: a backup's range on a fresh
// cluster (16 MB segments) while pgbench runs its TPC-B transactions, small records mostly.
func BenchmarkWALCheckerPgbench(b *testing.B) {
	ctx := context.Background()
	const segSize = 16 << 20
	c := testcluster.ForTest(b, testcluster.Options{Checksums: true, Conf: []string{"wal_keep_size = 256MB"}})
	if out, err := c.Pgbench(ctx, "-i", "-q", "-s", "2").CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	conn, err := c.Connect(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var startText, stopText string
	var timeline uint32
	if err := conn.QueryRow(ctx, `SELECT pg_backup_start('bench', true)::text`).Scan(&startText); err != nil {
		b.Fatal(err)
	}
	out, err := c.Pgbench(ctx, "-n", "-c", "2", "-t", "3000").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "number of transactions actually processed: 6000") {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	if err := conn.QueryRow(ctx, `SELECT lsn::text, (SELECT timeline_id FROM pg_control_checkpoint()) FROM pg_backup_stop(true)`).Scan(&stopText, &timeline); err != nil {
		b.Fatal(err)
	}
	start, _ := ParseLSN(startText)
	stop, _ := ParseLSN(stopText)
	magic, _ := WALPageMagic(15)
	r := WALRange{Start: start, Stop: stop, Timeline: timeline, SegmentSize: segSize, Magic: magic}
	var segs [][]byte
	for s := SegmentOf(start, segSize); s <= LastSegmentBefore(stop, segSize); s++ {
		seg, err := os.ReadFile(filepath.Join(c.DataDir, "pg_wal", s.Name(timeline, segSize)))
		if err != nil {
			b.Fatal(err)
		}
		segs = append(segs, seg)
	}
	b.Logf("WAL %s to %s: %d segments, %d MB of records", start, stop, len(segs), (stop-start)>>20)
	b.SetBytes(int64(stop - start))
	b.ResetTimer()
	for b.Loop() {
		if _, err := checkWAL(r, segs, 256<<10); err != nil {
			b.Fatal(err)
		}
	}
}
