package session

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// HelperProbe is what --server-compress=auto learns before the backup starts, in two round trips
// on the control session: how a sample of the data compresses through the helper with each codec
// and how fast, and how fast the link carries the same bytes as pg_read_binary_file sends them.
type HelperProbe struct {
	// Path is the sampled file, the largest relation of the database the DSN connects to, and
	// Bytes how much of it was read; 0 when the database holds no relation data.
	Path  string
	Bytes int64
	// Codecs is what each codec probed made of the sample, in the order asked for.
	Codecs []CodecProbe
	// RoundTrip is the first query's time less the server's time on it: the link's round trip;
	// Transfer is how long the sample takes on the link as it is, from its first byte to its last.
	RoundTrip, Transfer time.Duration
	// CPUs is how many CPUs the server's backends may run on (pgpull.helper_cpus()).
	CPUs int
}

// CodecProbe is what the helper made of the sample with one codec: Compressed bytes of Bytes, in
// HelperTime as the server clocks it (the fastest of three reads).
type CodecProbe struct {
	Codec             string
	Bytes, Compressed int64
	HelperTime        time.Duration
}

// Ratio is the compressed size over the sample's.
func (c CodecProbe) Ratio() float64 { return float64(c.Compressed) / float64(max(c.Bytes, 1)) }

// HelperRate is the helper's bytes per second of file data, on one backend.
func (c CodecProbe) HelperRate() float64 {
	return float64(c.Bytes) / max(c.HelperTime.Seconds(), 1e-6)
}

// LinkRate is one connection's bytes per second, as the sample crossed it.
func (p HelperProbe) LinkRate() float64 { return float64(p.Bytes) / max(p.Transfer.Seconds(), 1e-6) }

// probeSampleSQL picks the sample from the middle of the largest relation's first segment (by
// relpages, which VACUUM and ANALYZE keep, so that no file is stat()ed for each relation) and
// reads it through the helper with each codec of $3, one row each, clocked on the server between
// two clock_timestamp()s (a target list is evaluated in order), three times, the fastest counting:
// on the loaded bench machine one preemption made lz4 look 30 times slower, and twice was not
// always enough. A first short read imports the codec's module, which would otherwise count as the
// helper's time. Only the lengths come back, so that the round trip carries a few bytes.
const probeSampleSQL = `SELECT s.p, s.o, s.n, c.codec, length(pgpull.read_compressed(s.p, s.o, 8192, c.codec)),
	extract(epoch FROM clock_timestamp())::float8,
	(SELECT sum(length(pgpull.read_compressed(s.p, g, least($2::int8, s.o + s.n - g), c.codec)))::int8 FROM generate_series(s.o, s.o + s.n - 1, $2::int8) g),
	extract(epoch FROM clock_timestamp())::float8,
	(SELECT sum(length(pgpull.read_compressed(s.p, g, least($2::int8, s.o + s.n - g), c.codec)))::int8 FROM generate_series(s.o, s.o + s.n - 1, $2::int8) g),
	extract(epoch FROM clock_timestamp())::float8,
	(SELECT sum(length(pgpull.read_compressed(s.p, g, least($2::int8, s.o + s.n - g), c.codec)))::int8 FROM generate_series(s.o, s.o + s.n - 1, $2::int8) g),
	extract(epoch FROM clock_timestamp())::float8, extract(epoch FROM clock_timestamp() - statement_timestamp())::float8,
	pgpull.helper_cpus()
FROM (SELECT f.p, least(f.size, $1::int8) AS n, (f.size - least(f.size, $1::int8)) / 2 / 8192 * 8192 AS o
	FROM (SELECT pg_relation_filepath(c.oid) AS p, least(pg_relation_size(c.oid), 1073741824) AS size
		FROM pg_class c WHERE c.relkind IN ('r', 'm', 't', 'i') AND c.relpersistence = 'p'
		ORDER BY c.relpages DESC, c.oid LIMIT 1) f
	WHERE f.size > 0) s,
	unnest($3::text[]) AS c(codec)`

// ProbeHelper reads a sample of up to sample bytes through the helper with each of codecs, in
// calls of call bytes as the fetch workers make them, then as it is, and clocks both. The helper
// must be callable (CheckHelper): its Python is then started already.
func ProbeHelper(ctx context.Context, conn *pgx.Conn, sample, call int64, codecs []string) (HelperProbe, error) {
	var p HelperProbe
	began := time.Now()
	rows, err := conn.Query(ctx, probeSampleSQL, sample, call, codecs)
	if err != nil {
		return p, fmt.Errorf("sampling the data through the helper: %w", err)
	}
	var offset int64
	var statement float64
	for rows.Next() {
		var c CodecProbe
		var warm, again int64
		var t0, t1, t2, t3, elapsed float64
		if err := rows.Scan(&p.Path, &offset, &p.Bytes, &c.Codec, &warm, &t0, &c.Compressed, &t1, &again, &t2,
			&again, &t3, &elapsed, &p.CPUs); err != nil {
			rows.Close()
			return p, fmt.Errorf("sampling the data through the helper: %w", err)
		}
		c.Bytes, c.HelperTime = p.Bytes, time.Duration(min(t1-t0, t2-t1, t3-t2)*float64(time.Second))
		p.Codecs, statement = append(p.Codecs, c), max(statement, elapsed)
	}
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("sampling the data through the helper: %w", err)
	}
	if len(p.Codecs) == 0 {
		return HelperProbe{}, nil // no relation holds data
	}
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
