package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// Data set kinds accepted by --dataset.
const (
	datasetPgbench        = "pgbench"        // pgbench -i tables at a scale factor
	datasetMixed          = "mixed"          // half random bytes, half repetitive text
	datasetIncompressible = "incompressible" // random bytes only
	// datasetEmpty is the cluster initdb made, about 22 MB: a tool's wall time on it is its fixed
	// cost (start, connections, checkpoint, WAL, exit) with next to nothing to copy.
	datasetEmpty = "empty"
)

// payloadBytes is the size of one generated value. It stays under the TOAST
// threshold (about 2 kB) so values are stored inline, uncompressed, and the
// files hold exactly the entropy we generated.
const payloadBytes = 1800

// datasetSpec is a parsed --dataset value.
type datasetSpec struct {
	kind  string
	scale int   // pgbench scale factor
	size  int64 // bytes of generated values, for mixed and incompressible
}

// parseDataset reads "pgbench:SCALE", "mixed:SIZE", "incompressible:SIZE" or "empty", SIZE as
// in parseByteSize (e.g. 2GB).
func parseDataset(s string) (datasetSpec, error) {
	if s == datasetEmpty {
		return datasetSpec{kind: datasetEmpty}, nil
	}
	kind, arg, ok := strings.Cut(s, ":")
	if !ok || arg == "" {
		return datasetSpec{}, fmt.Errorf("dataset %q: want pgbench:SCALE, mixed:SIZE, incompressible:SIZE or empty", s)
	}
	switch kind {
	case datasetPgbench:
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 {
			return datasetSpec{}, fmt.Errorf("dataset %q: scale must be a positive integer", s)
		}
		return datasetSpec{kind: kind, scale: n}, nil
	case datasetMixed, datasetIncompressible:
		n, err := parseByteSize(arg)
		if err != nil {
			return datasetSpec{}, fmt.Errorf("dataset %q: %w", s, err)
		}
		if n < 1<<20 {
			return datasetSpec{}, fmt.Errorf("dataset %q: size must be at least 1MB", s)
		}
		return datasetSpec{kind: kind, size: n}, nil
	}
	return datasetSpec{}, fmt.Errorf("dataset %q: unknown kind %q; use pgbench, mixed, incompressible or empty", s, kind)
}

func (d datasetSpec) String() string {
	switch d.kind {
	case datasetEmpty:
		return d.kind
	case datasetPgbench:
		return fmt.Sprintf("%s:%d", d.kind, d.scale)
	}
	return fmt.Sprintf("%s:%s", d.kind, formatByteSize(d.size))
}

// parseByteSize reads a size such as 8MB, 2GB, 512k or 4096. Units are
// binary (k = 1024), matching pgpull's --range-size.
func parseByteSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q: use e.g. 512MB or 2GB", s)
	}
	return int64(n * float64(mult)), nil
}

// formatByteSize prints n with the largest binary unit that divides it evenly
// enough to read, e.g. 2GB, 512MB.
func formatByteSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}} {
		if n >= u.size {
			v := float64(n) / float64(u.size)
			if v == float64(int64(v)) {
				return fmt.Sprintf("%d%s", int64(v), u.suffix)
			}
			return fmt.Sprintf("%.1f%s", v, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", n)
}

// load fills c with the data set and checkpoints, so the data files on disk
// are what every tool then copies.
func (d datasetSpec) load(ctx context.Context, c *testcluster.Cluster) error {
	switch d.kind {
	case datasetPgbench:
		out, err := c.Pgbench(ctx, "-i", "-q", "-s", strconv.Itoa(d.scale)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pgbench -i: %w\n%s", err, out)
		}
	case datasetMixed:
		if err := loadTable(ctx, c, "bench_random", "bytea", d.size/2, randomPayload); err != nil {
			return err
		}
		if err := loadTable(ctx, c, "bench_text", "text", d.size-d.size/2, textPayload); err != nil {
			return err
		}
	case datasetIncompressible:
		if err := loadTable(ctx, c, "bench_random", "bytea", d.size, randomPayload); err != nil {
			return err
		}
	}
	// Freeze and analyze now: otherwise autovacuum does it during the first
	// backups, setting hint bits (WAL-logged as full pages when checksums are
	// on), so early runs would copy and compress a gigabyte of extra WAL.
	if err := c.Exec(ctx, "VACUUM (FREEZE, ANALYZE)"); err != nil {
		return err
	}
	return c.Exec(ctx, "CHECKPOINT")
}

// loaderConns is how many COPY streams fill one table at once; two keep both
// cores of a small machine busy without starving the server.
const loaderConns = 2

// loadTable creates table(id, v colType) and COPYs about size bytes of values
// made by gen into it over loaderConns connections.
func loadTable(ctx context.Context, c *testcluster.Cluster, table, colType string, size int64, gen func(r *rand.Rand, buf []byte) any) error {
	// STORAGE EXTERNAL: never pglz-compress, so repetitive text stays
	// repetitive in the files, as it would be in many real tables.
	ddl := fmt.Sprintf(`CREATE TABLE %s (id bigint, v %s); ALTER TABLE %[1]s ALTER COLUMN v SET STORAGE EXTERNAL`, table, colType)
	if err := c.Exec(ctx, ddl); err != nil {
		return err
	}
	rows := size / payloadBytes
	g, gctx := errgroup.WithContext(ctx)
	for part := range int64(loaderConns) {
		from, to := rows*part/loaderConns, rows*(part+1)/loaderConns
		g.Go(func() error {
			conn, err := c.Connect(gctx)
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(gctx))
			r := rand.New(rand.NewPCG(uint64(part), uint64(len(table))))
			buf := make([]byte, payloadBytes)
			id := from
			_, err = conn.CopyFrom(gctx, pgx.Identifier{table}, []string{"id", "v"}, pgx.CopyFromFunc(func() ([]any, error) {
				if id >= to {
					return nil, nil
				}
				id++
				return []any{id, gen(r, buf)}, nil
			}))
			if err != nil {
				return fmt.Errorf("COPY into %s: %w", table, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// randomPayload fills buf with random bytes: incompressible.
func randomPayload(r *rand.Rand, buf []byte) any {
	for i := 0; i+8 <= len(buf); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	return buf
}

// textWords is the vocabulary of the repetitive text: a small one compresses
// roughly like log lines or JSON keys do.
var textWords = strings.Fields(`backup restore replica primary checkpoint segment relation tablespace
	page block tuple index vacuum analyze commit rollback transaction snapshot lock buffer
	write read flush sync archive stream timeline manifest checksum range offset length`)

// textPayload makes a line of words drawn from textWords, payloadBytes long.
func textPayload(r *rand.Rand, buf []byte) any {
	var b strings.Builder
	b.Grow(payloadBytes + 16)
	for b.Len() < payloadBytes {
		b.WriteString(textWords[r.IntN(len(textWords))])
		b.WriteByte(' ')
	}
	return b.String()[:payloadBytes]
}
