package session

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// HelperProbe is what --server-compress=auto learns before the backup starts, in two round trips
// on the control session: how a sample of the data compresses through the helper and how fast,
// and how fast the link carries the same bytes as pg_read_binary_file sends them.
type HelperProbe struct {
	// Path is the sampled file, the largest relation of the database the DSN connects to, and
	// Bytes how much of it was read; 0 when the database holds no relation data.
	Path  string
	Bytes int64
	// Compressed is what the helper made of the sample, and HelperTime how long the server took
	// to read and compress it, as the server clocks it (the faster of two reads).
	Compressed int64
	HelperTime time.Duration
	// RoundTrip is the first query's time less the server's time on it: the link's round trip;
	// Transfer is how long the sample takes on the link as it is, from its first byte to its last.
	RoundTrip, Transfer time.Duration
	// CPUs is how many CPUs the server's backends may run on (pgpull.helper_cpus()).
	CPUs int
}

// Ratio is the compressed size over the sample's.
func (p HelperProbe) Ratio() float64 { return float64(p.Compressed) / float64(p.Bytes) }

// HelperRate is the helper's bytes per second of file data, on one backend.
func (p HelperProbe) HelperRate() float64 {
	return float64(p.Bytes) / max(p.HelperTime.Seconds(), 1e-6)
}

// LinkRate is one connection's bytes per second, as the sample crossed it.
func (p HelperProbe) LinkRate() float64 { return float64(p.Bytes) / max(p.Transfer.Seconds(), 1e-6) }

// probeSampleSQL picks the sample from the middle of the largest relation's first segment (by
// relpages, which VACUUM and ANALYZE keep, so that no file is stat()ed for each relation) and
// reads it through the helper, clocked on the server between two clock_timestamp()s (a target
// list is evaluated in order), three times, the fastest counting: on the loaded bench machine one
// preemption made lz4 look 30 times slower, and twice was not always enough. A first short read sets up the function in this backend, which would
// otherwise count as the helper's time. Only the lengths come back, so that the round trip
// carries a few bytes.
const probeSampleSQL = `SELECT s.p, s.o, s.n, length(pgpull.read_compressed(s.p, s.o, 8192)),
	extract(epoch FROM clock_timestamp())::float8,
	(SELECT sum(length(pgpull.read_compressed(s.p, g, least($2::int8, s.o + s.n - g))))::int8 FROM generate_series(s.o, s.o + s.n - 1, $2::int8) g),
	extract(epoch FROM clock_timestamp())::float8,
	(SELECT sum(length(pgpull.read_compressed(s.p, g, least($2::int8, s.o + s.n - g))))::int8 FROM generate_series(s.o, s.o + s.n - 1, $2::int8) g),
	extract(epoch FROM clock_timestamp())::float8,
	(SELECT sum(length(pgpull.read_compressed(s.p, g, least($2::int8, s.o + s.n - g))))::int8 FROM generate_series(s.o, s.o + s.n - 1, $2::int8) g),
	extract(epoch FROM clock_timestamp())::float8, extract(epoch FROM clock_timestamp() - statement_timestamp())::float8,
	pgpull.helper_cpus()
FROM (SELECT f.p, least(f.size, $1::int8) AS n, (f.size - least(f.size, $1::int8)) / 2 / 8192 * 8192 AS o
	FROM (SELECT pg_relation_filepath(c.oid) AS p, least(pg_relation_size(c.oid), 1073741824) AS size
		FROM pg_class c WHERE c.relkind IN ('r', 'm', 't', 'i') AND c.relpersistence = 'p'
		ORDER BY c.relpages DESC, c.oid LIMIT 1) f
	WHERE f.size > 0) s`

// ProbeHelper reads a sample of up to sample bytes through the helper, in calls of call bytes as
// the fetch workers make them, then as it is, and clocks both. The helper must be callable
// (CheckHelper): its Python is then started already.
func ProbeHelper(ctx context.Context, conn *pgx.Conn, sample, call int64) (HelperProbe, error) {
	var p HelperProbe
	var offset, warm, again int64
	var t0, t1, t2, t3, statement float64
	began := time.Now()
	err := conn.QueryRow(ctx, probeSampleSQL, sample, call).Scan(&p.Path, &offset, &p.Bytes, &warm, &t0, &p.Compressed, &t1, &again, &t2,
		&again, &t3, &statement, &p.CPUs)
	switch {
	case err == pgx.ErrNoRows:
		return HelperProbe{}, nil
	case err != nil:
		return p, fmt.Errorf("sampling the data through the helper: %w", err)
	}
	p.HelperTime = time.Duration(min(t1-t0, t2-t1, t3-t2) * float64(time.Second))
	p.RoundTrip = max(time.Since(began)-time.Duration(statement*float64(time.Second)), 0)
	if p.Transfer, err = clockLink(ctx, conn, p.Path, offset, p.Bytes); err != nil {
		return p, fmt.Errorf("reading the sample as it is: %w", err)
	}
	return p, nil
}

// linkRow is the row size clockLink reads the sample in.
const linkRow = 64 << 10

// clockLink reads n bytes of path from offset as they are, in rows of linkRow, and returns how
// long the whole would take on the link: the time from the first row to the last, scaled to all
// n bytes. A round trip, and the server's start, come before the first row, so neither counts,
// however they vary. In binary, as the fetch workers read: text would send bytea as hex.
func clockLink(ctx context.Context, conn *pgx.Conn, path string, offset, n int64) (time.Duration, error) {
	rr := conn.PgConn().ExecParams(ctx, `SELECT pg_read_binary_file($1, g, least($4::int8, $2::int8 + $3::int8 - g), true)
		FROM generate_series($2::int8, $2::int8 + $3::int8 - 1, $4::int8) AS g`,
		[][]byte{[]byte(path), itoa(offset), itoa(n), itoa(linkRow)}, nil, nil, []int16{pgx.BinaryFormatCode})
	var first, last time.Time
	var firstBytes int64
	for rr.NextRow() {
		last = time.Now()
		if first.IsZero() {
			first, firstBytes = last, int64(len(rr.Values()[0]))
		}
	}
	if _, err := rr.Close(); err != nil {
		return 0, err
	}
	if n <= firstBytes {
		return time.Microsecond, nil // one row: nothing to clock, and too little to matter
	}
	return max(time.Duration(float64(last.Sub(first))*float64(n)/float64(n-firstBytes)), time.Microsecond), nil
}

func itoa(n int64) []byte { return strconv.AppendInt(nil, n, 10) }
