package fetch

import (
	"crypto/sha256"
	"strconv"
	"strings"

	"github.com/pgpull/pgpull/pipeline"
)

// Every form in which the fetch workers read a file, side by side: a range in rows, a batch of
// small files, a range of a file whose name is not valid text, a comparison with the
// destination's block sums, and the same two through the server-compress helper. Other reads of a
// server file go through session.ReadFile.

// rangeSQL reads $1 from $2 up to $4 in rows of $3 bytes; batchSQL the stretches of the arrays $1
// (paths), $2 (offsets), $3 (lengths), one row each. A missing file reads as NULL.
const (
	rangeSQL = `SELECT pg_read_binary_file($1::text, o, least($3::int8, $4::int8 - o), true)
		FROM generate_series($2::int8, $4::int8 - 1, $3::int8) AS o`
	batchSQL = `SELECT pg_read_binary_file(t.p, t.o, t.l, true) FROM unnest($1::text[], $2::int8[], $3::int8[]) AS t(p, o, l)`
)

// A file name need not be valid in the database's encoding: PostgreSQL's own tests plant
// "FOO\xe0\xe0\xe0BAR" in a data directory. pg_ls_dir hands such a name out as text unchecked, but
// a text parameter coming back is checked and refused ("invalid byte sequence for encoding").
// So the name travels as bytea, and the server finds the entry whose bytes match (textsend gives
// them unchanged when the connection's encoding is the database's), walking from the longest
// valid directory above it.
const resolveSQL = `WITH RECURSIVE walk(depth, path) AS (
    SELECT 0, $1::text
  UNION ALL
    SELECT w.depth + 1, CASE WHEN w.path = '.' THEN n ELSE w.path || '/' || n END
      FROM walk AS w, LATERAL pg_ls_dir(w.path, true, false) AS n
     WHERE w.depth < cardinality($2::bytea[]) AND textsend(n) = ($2::bytea[])[w.depth + 1]
)`

// rawRangeSQL is rangeSQL for a name found by resolveSQL; a name not found reads as NULL, as
// a vanished file does.
const rawRangeSQL = resolveSQL + `
SELECT pg_read_binary_file((SELECT path FROM walk WHERE depth = cardinality($2::bytea[])), o, least($4::int8, $5::int8 - o), true)
  FROM generate_series($3::int8, $5::int8 - 1, $4::int8) AS o`

// compareSQL reads each block of the Pieces once and returns it only when its SHA-256 differs
// from the destination's ($5 holds the local sums, 32 bytes each; $4 says where each Piece's
// sums start in $5), or when the file is gone (NULL). sha256() is built in since PostgreSQL 11,
// so every supported version has it, and it is used on all of them: on PostgreSQL 15 (Debian, OpenSSL, this repository's 2-core EPYC) hashing 128 MiB
// in 8 KiB blocks cost the backend 150-190 ms of CPU with sha256() and 250-310 ms with md5(),
// over 250 ms for the reads themselves; and md5() fails on a server in FIPS mode. Reading one
// block per call, rather than a large range cut with substr(), was the cheaper of the two
// (large reads cost page faults, and substr() of a subquery's value copied it per row). The
// OFFSET 0 keeps each block read once: the hash and the result share it.
var compareSQL = strings.NewReplacer("BLOCK", strconv.Itoa(pipeline.DeltaBlock), "SUM", strconv.Itoa(sha256.Size)).Replace(`
SELECT x.n, x.i, x.b FROM (
	SELECT t.n, g.i, t.h, pg_read_binary_file(t.p, t.o + g.i * BLOCK, least(BLOCK, t.l - g.i * BLOCK), true) AS b
	  FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) WITH ORDINALITY AS t(p, o, l, h, n),
	       generate_series(0, (t.l - 1) / BLOCK) AS g(i)
	OFFSET 0) AS x
 WHERE x.b IS NULL OR sha256(x.b) <> substr($5::bytea, ((x.h + x.i) * SUM + 1)::int4, SUM)`)

const (
	helperRangeSQL = `SELECT pgpull.read_compressed($1::text, o, least($3::int8, $4::int8 - o), $5::text)
		FROM generate_series($2::int8, $4::int8 - 1, $3::int8) AS o`
	helperBatchSQL = `SELECT pgpull.read_compressed(t.p, t.o, t.l, $4::text) FROM unnest($1::text[], $2::int8[], $3::int8[]) AS t(p, o, l)`
)
