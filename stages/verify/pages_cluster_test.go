package verify

import (
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/fixture"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// pageFixture is where -update saves a real heap page (testdata/page/heap_block1.page at the
// module root) for internal/pgformat's table tests, which check PageChecksum against PostgreSQL
// without a server.
var pageFixture = []string{"page", "heap_block1.page"}

const pageFixtureBlock = 1

// TestPageChecksumsMatchPostgres checks every page of a fresh PostgreSQL cluster made with
// --data-checksums, then corrupts one page and compares the report with pg_checksums.
func TestPageChecksumsMatchPostgres(t *testing.T) {
	ctx := context.Background()
	c := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	for _, sql := range []string{
		`CREATE TABLE pages(id int, pad text)`,
		`INSERT INTO pages SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g`,
		`CREATE INDEX ON pages(id)`,
		`VACUUM pages`, // writes the visibility map and free space map forks
		`CHECKPOINT`,
	} {
		if err := c.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	rel, err := c.QueryString(ctx, "SELECT pg_relation_filepath('pages')")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	var checked, files int
	for _, dir := range []string{"global", "base"} {
		err := filepath.WalkDir(filepath.Join(c.DataDir, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			r, ok := pgformat.ParseRelationFile(d.Name())
			if !ok {
				return nil
			}
			segment := r.Segment
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			for i := 0; i+pgformat.BlockSize <= len(data); i += pgformat.BlockSize {
				blkno := uint32(i/pgformat.BlockSize) + uint32(segment)*pgformat.DefaultBlocksPerSegment
				ok, wasChecked, computed, stored := pgformat.CheckPage(data[i:], blkno, math.MaxUint64)
				if !ok {
					t.Errorf("%s block %d: computed %04X, stored %04X", path, blkno, computed, stored)
				}
				if wasChecked {
					checked++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d pages of %d relation files verified", checked, files)
	if checked < 500 {
		t.Fatalf("only %d pages checked; the cluster walk found too little", checked)
	}

	path := filepath.Join(c.DataDir, rel)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		page := data[pageFixtureBlock*pgformat.BlockSize : (pageFixtureBlock+1)*pgformat.BlockSize]
		if err := os.WriteFile(fixture.Path(pageFixture...), page, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	const badBlock = 3
	data[badBlock*pgformat.BlockSize+5000] ^= 0xFF
	if got := pgformat.CheckPages(data, 0, 0, 0, math.MaxUint64); !slices.Equal(got, []uint32{badBlock}) {
		t.Fatalf("CheckPages after corrupting block %d = %v", badBlock, got)
	}
	// The same file seen as segment 2 of a larger relation mixes other block numbers in, so every
	// page fails.
	if got := pgformat.CheckPages(data, 0, 2, 0, math.MaxUint64); len(got) != len(data)/pgformat.BlockSize {
		t.Errorf("as segment 2: %d of %d pages fail", len(got), len(data)/pgformat.BlockSize)
	}
	// A page changed since the backup started is not checked.
	if got := pgformat.CheckPages(data, 0, 0, 0, pgformat.PageLSN(data[badBlock*pgformat.BlockSize:])); slices.Contains(got, badBlock) {
		t.Errorf("block with pd_lsn >= startLSN was checked: %v", got)
	}
	failures := pgformat.AppendPageFailures(nil, rel, data, 0, 0, 0, math.MaxUint64)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := c.PgChecksums(ctx)
	if err == nil {
		t.Fatalf("pg_checksums --check passed a corrupted cluster:\n%s", out)
	}
	reported := regexp.MustCompile(`checksum verification failed in file "([^"]+)", block ([0-9]+): calculated checksum ([0-9A-F]+) but block contains ([0-9A-F]+)`).
		FindAllStringSubmatch(out, -1)
	if len(reported) != 1 || len(failures) != 1 {
		t.Fatalf("pg_checksums reported %d failures, we found %v:\n%s", len(reported), failures, out)
	}
	r, f := reported[0], failures[0]
	// pg_checksums prints the block within the segment file, which is the relation block here.
	got := r[1:5]
	want := []string{filepath.Join(c.DataDir, rel), strconv.Itoa(int(f.Block)),
		strconv.FormatUint(uint64(f.Computed), 16), strconv.FormatUint(uint64(f.Stored), 16)}
	if got[0] != want[0] || got[1] != want[1] || !strings.EqualFold(got[2], want[2]) || !strings.EqualFold(got[3], want[3]) {
		t.Errorf("pg_checksums says %q, we say %q", got, want)
	}
}
