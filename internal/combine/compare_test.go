package combine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// treeEntry is one entry of a data directory as the comparisons see it.
type treeEntry struct {
	kind string // "file", "dir", "link" or "tablespace" (pg_tblspc/<oid>, whatever its form)
	sum  [32]byte
	size int64
}

// listTree lists a data directory, walking through its tablespace links.
func listTree(t *testing.T, root string) map[string]treeEntry {
	t.Helper()
	tree := map[string]treeEntry{}
	var walk func(abs, rel string)
	walk = func(abs, rel string) {
		des, err := os.ReadDir(abs)
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range des {
			childAbs, childRel := filepath.Join(abs, de.Name()), path.Join(rel, de.Name())
			switch {
			case rel == "pg_tblspc":
				tree[childRel] = treeEntry{kind: "tablespace"}
				walk(childAbs, childRel)
			case de.Type()&fs.ModeSymlink != 0:
				tree[childRel] = treeEntry{kind: "link"}
			case de.IsDir():
				tree[childRel] = treeEntry{kind: "dir"}
				walk(childAbs, childRel)
			default:
				body, err := os.ReadFile(childAbs)
				if err != nil {
					t.Fatal(err)
				}
				tree[childRel] = treeEntry{kind: "file", sum: sha256.Sum256(body), size: int64(len(body))}
			}
		}
	}
	walk(root, "")
	return tree
}

// incrementalHeaders reads every INCREMENTAL file of a backup, by its path in the backup, and
// checks that pgformat renders each header as the server wrote it, padding included.
func incrementalHeaders(t *testing.T, backup string) map[string]*pgformat.IncrementalHeader {
	t.Helper()
	headers := map[string]*pgformat.IncrementalHeader{}
	for rel, e := range listTree(t, backup) {
		if e.kind == "file" && strings.HasPrefix(path.Base(rel), pgformat.IncrementalPrefix) {
			name := filepath.Join(backup, filepath.FromSlash(rel))
			h, err := readIncrementalHeader(name)
			if err != nil {
				t.Fatal(err)
			}
			body, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(body, h.Bytes()) || int64(len(body)) != h.FileSize() {
				t.Errorf("%s: the server's header is not what IncrementalHeader renders", name)
			}
			headers[rel] = h
		}
	}
	return headers
}

// compareOutputs checks that two rebuilt data directories hold the same entries, every file
// byte for byte, but for backup_manifest, whose lists of files (the WAL apart) and sizes must
// agree, with the same system identifier and WAL ranges.
func compareOutputs(t *testing.T, ours, theirs string) {
	t.Helper()
	a, b := listTree(t, ours), listTree(t, theirs)
	relations := 0
	for _, rel := range slices.Sorted(maps.Keys(a)) {
		if rel == manifestName {
			continue
		}
		ea, eb := a[rel], b[rel]
		switch {
		case eb.kind == "":
			t.Errorf("%s: in Combine's output only", rel)
		case ea != eb:
			t.Errorf("%s: Combine wrote a %s of %d bytes, pg_combinebackup a %s of %d bytes, with other contents", rel, ea.kind, ea.size, eb.kind, eb.size)
		case pgformat.PageSegment(path.Dir(rel), path.Base(rel)) >= 0:
			relations++
		}
	}
	for rel := range b {
		if _, ok := a[rel]; !ok {
			t.Errorf("%s: in pg_combinebackup's output only", rel)
		}
	}
	if relations < 100 {
		t.Errorf("compared only %d relation files", relations)
	}
	ma, mb := readManifest(t, ours), readManifest(t, theirs)
	if ma.SystemID != mb.SystemID || ma.Version != mb.Version || !slices.Equal(ma.WALRanges, mb.WALRanges) {
		t.Errorf("manifests differ: version %d, system %d, WAL %v against version %d, system %d, WAL %v",
			ma.Version, ma.SystemID, ma.WALRanges, mb.Version, mb.SystemID, mb.WALRanges)
	}
	if la, lb := manifestListing(ma), manifestListing(mb); !maps.Equal(la, lb) {
		t.Errorf("manifests list other files:\nCombine's          %v\npg_combinebackup's %v", la, lb)
	}
}

func readManifest(t *testing.T, dir string) *manifest.Parsed {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// manifestListing is a manifest's files outside pg_wal, with their sizes.
func manifestListing(m *manifest.Parsed) map[string]int64 {
	l := map[string]int64{}
	for _, f := range m.Files {
		if !underPgWAL(f.Path) {
			l[f.Path] = f.Size
		}
	}
	return l
}

// tableContents is, for each table of each database a user can connect to, its row count and
// the MD5 of its rows in order, read from the heap (no index or visibility map consulted).
func tableContents(t *testing.T, ctx context.Context, c *testcluster.Cluster) map[string]string {
	t.Helper()
	var dbs []string
	if err := c.QueryRow(ctx, `SELECT array_agg(datname::text ORDER BY datname) FROM pg_database WHERE datallowconn AND NOT datistemplate`, nil, &dbs); err != nil {
		t.Fatal(err)
	}
	contents := map[string]string{}
	for _, db := range dbs {
		conn, err := pgx.Connect(ctx, strings.Replace(c.DSN(), "dbname=postgres", "dbname="+db, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off`); err != nil {
			t.Fatal(err)
		}
		var tables []string
		if err := conn.QueryRow(ctx, `SELECT coalesce(array_agg(relname::text), '{}') FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		for _, table := range tables {
			var count int64
			var sum string
			q := fmt.Sprintf(`SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') FROM %s t`, pgx.Identifier{table}.Sanitize())
			if err := conn.QueryRow(ctx, q).Scan(&count, &sum); err != nil {
				t.Fatal(err)
			}
			contents[db+"."+table] = fmt.Sprintf("%d rows, md5 %s", count, sum)
		}
	}
	if len(contents) < 5 {
		t.Fatalf("found only %d tables: %v", len(contents), contents)
	}
	return contents
}

func mapsEqual(a, b map[string]string) bool { return maps.Equal(a, b) }
