package combine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// TestCombineTruncatedThenBulkExtended is the case where Combine and pg_combinebackup part: a
// table shrunk by VACUUM before the middle backup, then grown again by COPY, whose bulk
// extension leaves pages of zeros that no WAL names. pg_combinebackup fills those blocks with the
// full backup's pages from before the truncation; Combine, honouring the middle backup's
// truncation length, writes zeros, as the primary's own file holds.
func TestCombineTruncatedThenBulkExtended(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := newChainCluster(t, ctx)
	c.exec(ctx, `CREATE TABLE bulk (id int, pad text);
INSERT INTO bulk SELECT g, repeat('b', 200) FROM generate_series(1, 40000) g;
VACUUM bulk;
CHECKPOINT;`)
	b0 := c.backup(ctx, "b0", "")
	c.exec(ctx, `DELETE FROM bulk WHERE id > 20000;
VACUUM bulk;`)
	b1 := c.backup(ctx, "b1", b0)
	copyRows(t, ctx, c, 30001, 33000)
	b2 := c.backup(ctx, "b2", b1)
	c.exec(ctx, "CHECKPOINT;")

	rel, err := c.src.QueryString(ctx, `SELECT pg_relation_filepath('bulk')`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b2, filepath.Dir(rel), pgformat.IncrementalPrefix+filepath.Base(rel))); err != nil {
		t.Fatalf("the table is not an INCREMENTAL file in the newest backup, the case is not made: %v", err)
	}
	ours, theirs := filepath.Join(c.work, "ours"), filepath.Join(c.work, "theirs")
	if err := Combine([]string{b0, b1, b2}, ours, Options{Tablespaces: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	c.run(ctx, "pg_combinebackup", "-o", theirs, b0, b1, b2)

	read := func(dir string) []byte {
		body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	a, b, full, primary := read(ours), read(theirs), read(b0), read(c.src.DataDir)
	if len(a) != len(b) {
		t.Fatalf("Combine wrote %d bytes, pg_combinebackup %d", len(a), len(b))
	}
	zero := make([]byte, pgformat.BlockSize)
	var parted []string
	for off := 0; off < len(a); off += pgformat.BlockSize {
		pa, pb := a[off:off+pgformat.BlockSize], b[off:off+pgformat.BlockSize]
		if bytes.Equal(pa, pb) {
			continue
		}
		blk := off / pgformat.BlockSize
		parted = append(parted, fmt.Sprint(blk))
		switch {
		case !bytes.Equal(pa, zero):
			t.Errorf("block %d: Combine wrote a page that is not zeros where pg_combinebackup wrote another", blk)
		case off+pgformat.BlockSize > len(full) || !bytes.Equal(pb, full[off:off+pgformat.BlockSize]):
			t.Errorf("block %d: pg_combinebackup's page is not the full backup's", blk)
		case off+pgformat.BlockSize > len(primary) || !bytes.Equal(primary[off:off+pgformat.BlockSize], zero):
			t.Errorf("block %d: the primary's page is not zeros", blk)
		}
	}
	if len(parted) == 0 {
		t.Fatal("Combine and pg_combinebackup wrote the same file: COPY left no page of zeros inside the old length, the case is not made")
	}
	t.Logf("blocks of zeros where pg_combinebackup wrote the full backup's old pages: %s", strings.Join(parted, " "))
}

// copyRows adds rows from..to to the table bulk with COPY, which extends the table by many pages
// at a time.
func copyRows(t *testing.T, ctx context.Context, c *chainCluster, from, to int) {
	t.Helper()
	conn, err := c.src.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows [][]any
	for id := from; id <= to; id++ {
		rows = append(rows, []any{int32(id), strings.Repeat("c", 200)})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"bulk"}, []string{"id", "pad"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
}
