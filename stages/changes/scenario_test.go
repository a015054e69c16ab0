package changes

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// scenario is a cluster changed in known ways between a prior backup's start and a new one's.
type scenario struct {
	c      *testcluster.Cluster
	layout Layout
	prior  Prior
	files  []Listed // the data directory's files at the new start
	start  pgformat.LSN
	tli    uint32
	// before and after hold the test relations' files, by path, as the prior backup copied them
	// and as they are at the new start; nothing writes to them after either.
	before, after map[string][]byte
	paths         map[string]string // test relation -> its file's path at the new start
	backup        *pgx.Conn         // the session that holds the new backup started
	updated       []uint32          // heap blocks that held the updated rows, before or after
	newDB         string            // the directory of the database created since
}

// quietConf keeps the server from writing pages of its own accord, so that the files the test
// compares change only where the test changes them.
const quietConf = "autovacuum = off"

// newScenario makes a cluster with opts (checksums on), takes a prior backup position, changes
// it, and starts a new backup, which stays started until the test ends.
func newScenario(t *testing.T, conf ...string) *scenario {
	t.Helper()
	ctx := context.Background()
	c := testcluster.ForTest(t, testcluster.Options{Checksums: true, Conf: append([]string{quietConf}, conf...)})
	sc := &scenario{c: c, paths: map[string]string{}}
	mustExec(t, c, `
		CREATE TABLE big (id int, pad text);
		INSERT INTO big SELECT g, repeat('b', 500) FROM generate_series(1, 30000) g;
		CREATE TABLE upd (id int PRIMARY KEY, v int, pad text) WITH (fillfactor = 100);
		INSERT INTO upd SELECT g, 0, repeat('u', 200) FROM generate_series(1, 20000) g;
		CREATE TABLE shrink (id int, pad text);
		INSERT INTO shrink SELECT g, repeat('s', 200) FROM generate_series(1, 20000) g;
		CREATE TABLE regrow (id int, pad text);
		INSERT INTO regrow SELECT g, repeat('r', 200) FROM generate_series(1, 5000) g;
		CREATE TABLE trunc (id int, pad text);
		INSERT INTO trunc SELECT g, repeat('t', 200) FROM generate_series(1, 2000) g`)
	mustExec(t, c, `VACUUM (FREEZE, ANALYZE)`)
	mustExec(t, c, `CHECKPOINT`)
	conn := connect(t, c.DSN())
	var err error
	if sc.layout, err = ReadLayout(ctx, conn); err != nil {
		t.Fatal(err)
	}
	priorStart, priorTLI := startBackup(t, conn, c.Major, "prior")
	files := listFiles(t, conn)
	sc.prior = Prior{StartLSN: priorStart, Timeline: priorTLI, Files: map[string]PriorFile{}}
	for _, f := range files {
		sc.prior.Files[f.Path] = PriorFile{Size: f.Size, LastModified: f.ModTime.UTC().Format(manifest.LastModifiedLayout)}
	}
	sc.before = readRelations(t, conn, "big", "upd", "upd_pkey", "shrink", "regrow")
	stopBackup(t, conn, c.Major)
	sc.change(t, conn)
	sc.start, sc.tli = startBackup(t, conn, c.Major, "new")
	sc.backup = conn
	sc.files = listFiles(t, conn)
	sc.after = readRelations(t, conn, "big", "upd", "upd_pkey", "shrink", "regrow", "trunc", "created")
	for _, rel := range []string{"big", "upd", "upd_pkey", "shrink", "regrow", "trunc", "created"} {
		sc.paths[rel] = relationPath(t, conn, rel)
	}
	return sc
}

// change updates a known key range, shrinks a table, empties one and fills it again in the same
// file, truncates one, and creates a table and a database.
func (sc *scenario) change(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	const keys = `id BETWEEN 5000 AND 5100`
	sc.updated = ctidBlocks(t, conn, `SELECT ctid FROM upd WHERE `+keys)
	mustExec(t, sc.c, `UPDATE upd SET v = v + 1 WHERE `+keys)
	sc.updated = append(sc.updated, ctidBlocks(t, conn, `SELECT ctid FROM upd WHERE `+keys)...)
	mustExec(t, sc.c, `DELETE FROM shrink WHERE id > 5000`)
	mustExec(t, sc.c, `VACUUM shrink`)
	mustExec(t, sc.c, `DELETE FROM regrow`)
	mustExec(t, sc.c, `VACUUM regrow`)
	mustExec(t, sc.c, `INSERT INTO regrow SELECT g, 'again' FROM generate_series(1, 3000) g`)
	mustExec(t, sc.c, `TRUNCATE trunc`)
	mustExec(t, sc.c, `INSERT INTO trunc SELECT g, 'again' FROM generate_series(1, 10) g`)
	mustExec(t, sc.c, `CREATE TABLE created AS SELECT g AS id FROM generate_series(1, 1000) g`)
	mustExec(t, sc.c, `CREATE DATABASE newdb`)
	var oid string
	if err := conn.QueryRow(context.Background(), `SELECT oid::text FROM pg_database WHERE datname = 'newdb'`).Scan(&oid); err != nil {
		t.Fatal(err)
	}
	sc.newDB = "base/" + oid
}

// roleConn connects as a role holding only what `pgpull grants` gives, so that a method needing
// more fails the test.
func (sc *scenario) roleConn(t *testing.T) *pgx.Conn {
	t.Helper()
	mustExec(t, sc.c, `DO $$ BEGIN CREATE ROLE bk LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`)
	psql := sc.c.Psql(context.Background(), "-d", "template1")
	psql.Stdin = strings.NewReader(session.GrantsSQL(sc.c.Major, "postgres", "bk"))
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql < the SQL of pgpull grants: %v\n%s", err, out)
	}
	return connect(t, strings.Replace(sc.c.DSN(), "user=postgres", "user=bk", 1))
}

func mustExec(t testing.TB, c *testcluster.Cluster, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// startBackup starts a non-exclusive backup on conn and returns its start LSN and timeline.
func startBackup(t testing.TB, conn *pgx.Conn, major int, label string) (pgformat.LSN, uint32) {
	t.Helper()
	q := `SELECT pg_backup_start($1, true)::text`
	if major < 15 {
		q = `SELECT pg_start_backup($1, true, false)::text`
	}
	var start string
	var tli int64
	ctx := context.Background()
	if err := conn.QueryRow(ctx, q, label).Scan(&start); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT timeline_id::int8 FROM pg_control_checkpoint()`).Scan(&tli); err != nil {
		t.Fatal(err)
	}
	l, err := pgformat.ParseLSN(start)
	if err != nil {
		t.Fatal(err)
	}
	return l, uint32(tli)
}

func stopBackup(t testing.TB, conn *pgx.Conn, major int) {
	t.Helper()
	q := `SELECT 1 FROM pg_backup_stop(false)`
	if major < 15 {
		q = `SELECT 1 FROM pg_stop_backup(false, false)`
	}
	if _, err := conn.Exec(context.Background(), q); err != nil {
		t.Fatal(err)
	}
}

// listFiles lists the regular files of every database directory and global/.
func listFiles(t testing.TB, conn *pgx.Conn) []Listed {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		WITH dirs AS (SELECT 'base/' || d AS dir FROM pg_ls_dir('base') AS d WHERE d NOT LIKE 'pgsql\_tmp%'
		              UNION ALL SELECT 'global')
		SELECT dir || '/' || f, s.size, s.modification
		  FROM dirs, LATERAL pg_ls_dir(dir) AS f, LATERAL pg_stat_file(dir || '/' || f, true) AS s
		 WHERE s.size IS NOT NULL AND NOT s.isdir
		 ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	files, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Listed, error) {
		var f Listed
		return f, r.Scan(&f.Path, &f.Size, &f.ModTime)
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func relationPath(t testing.TB, conn *pgx.Conn, rel string) string {
	t.Helper()
	var p string
	if err := conn.QueryRow(context.Background(), `SELECT pg_relation_filepath($1::regclass)`, rel).Scan(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// readRelations reads the main fork files of the named relations, by path.
func readRelations(t testing.TB, conn *pgx.Conn, rels ...string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, rel := range rels {
		p := relationPath(t, conn, rel)
		var b []byte
		if err := conn.QueryRow(context.Background(), `SELECT pg_read_binary_file($1)`, p).Scan(&b); err != nil {
			t.Fatal(err)
		}
		out[p] = b
	}
	return out
}

// ctidBlocks returns the heap blocks of the ctids the query returns.
func ctidBlocks(t testing.TB, conn *pgx.Conn, query string) []uint32 {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT DISTINCT (ctid::text::point)[0]::int8 FROM (`+query+`) AS q`)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (uint32, error) {
		var b int64
		return uint32(b), r.Scan(&b)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) == 0 {
		t.Fatalf("%s: no rows", query)
	}
	return blocks
}

// answers indexes a method's answers by path, checking there is one per listed file in order.
func (sc *scenario) answers(t *testing.T, got []File) map[string]File {
	t.Helper()
	if len(got) != len(sc.files) {
		t.Fatalf("%d answers for %d files", len(got), len(sc.files))
	}
	out := map[string]File{}
	for i, f := range got {
		if f.Path != sc.files[i].Path {
			t.Fatalf("answer %d is for %s, not %s", i, f.Path, sc.files[i].Path)
		}
		out[f.Path] = f
	}
	return out
}

// check holds a method's answers to what the scenario changed: the updated rows' blocks are
// sent, an untouched table sends nothing, new files go whole, and each test relation rebuilt from
// the prior copy and the blocks sent is the file as it is now.
func (sc *scenario) check(t *testing.T, got []File) {
	t.Helper()
	byPath := sc.answers(t, got)
	upd := byPath[sc.paths["upd"]]
	if upd.Whole {
		t.Errorf("upd goes whole (%s); want its changed blocks", upd.Reason)
	}
	for _, b := range sc.updated {
		if !slices.Contains(upd.Blocks, b) {
			t.Errorf("upd: block %d held an updated row, but the blocks sent are %v", b, upd.Blocks)
		}
	}
	big := byPath[sc.paths["big"]]
	if big.Whole || len(big.Blocks) != 0 || int64(big.TruncateBlocks)*sc.layout.BlockSize != int64(len(sc.after[sc.paths["big"]])) {
		t.Errorf("big, untouched: whole %v (%s), blocks %v, truncate %d; want no blocks and its length", big.Whole, big.Reason, big.Blocks, big.TruncateBlocks)
	}
	for _, rel := range []string{"trunc", "created"} {
		if f := byPath[sc.paths[rel]]; !f.Whole || !strings.Contains(f.Reason, "not in the prior backup") {
			t.Errorf("%s, a new file: whole %v (%s); want it whole", rel, f.Whole, f.Reason)
		}
	}
	newDB := 0
	for _, f := range got {
		if strings.HasPrefix(f.Path, sc.newDB+"/") {
			newDB++
			if !f.Whole {
				t.Errorf("%s in the new database: not whole", f.Path)
			}
		}
		if strings.HasSuffix(f.Path, "_vm") || strings.HasSuffix(f.Path, "_fsm") {
			if !f.Whole {
				t.Errorf("%s: not whole", f.Path)
			}
		}
	}
	if newDB == 0 {
		t.Errorf("no files listed in the new database %s", sc.newDB)
	}
	for _, rel := range []string{"big", "upd", "upd_pkey", "shrink", "regrow"} {
		p := sc.paths[rel]
		if err := checkRebuild(sc.before[p], sc.after[p], byPath[p], int(sc.layout.BlockSize)); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
}

// checkRebuild rebuilds a file as pg_combinebackup would from its prior copy and the answer's
// blocks read from now, and compares it with now.
func checkRebuild(prior, now []byte, f File, bs int) error {
	if f.Whole {
		return nil
	}
	length := int(f.TruncateBlocks)
	if n := len(f.Blocks); n > 0 {
		length = max(length, int(f.Blocks[n-1])+1)
	}
	out := make([]byte, length*bs)
	sent := map[int]bool{}
	for _, b := range f.Blocks {
		sent[int(b)] = true
	}
	for b := 0; b < length; b++ {
		page := out[b*bs : (b+1)*bs]
		switch {
		case sent[b] && (b+1)*bs <= len(now):
			copy(page, now[b*bs:])
		case sent[b]:
			return fmt.Errorf("block %d is sent but past the file's %d bytes", b, len(now))
		case b >= int(f.TruncateBlocks):
			// neither sent nor below the truncation length: pg_combinebackup writes zeros
		case (b+1)*bs <= len(prior):
			copy(page, prior[b*bs:])
		default:
			return fmt.Errorf("block %d is taken from the prior copy, which has %d bytes", b, len(prior))
		}
	}
	if len(out) != len(now) {
		return fmt.Errorf("rebuilt to %d bytes, but the file has %d", len(out), len(now))
	}
	for b := 0; b*bs < len(now); b++ {
		if string(out[b*bs:(b+1)*bs]) != string(now[b*bs:(b+1)*bs]) {
			return fmt.Errorf("rebuilt block %d differs from the file's (blocks sent %v, truncate %d)", b, f.Blocks, f.TruncateBlocks)
		}
	}
	return nil
}
