package changes

import (
	"fmt"
	"strings"
)

// The page scans all take the same parameters, a window per array element: $1 the window's file
// (an index the caller chose), $2 the file's path, $3 its first block, $4 its length in blocks;
// $5 the prior backup's start LSN as a bigint; $6 BLCKSZ. Each returns rows (file index, block
// number in the file) for the pages whose pd_lsn is at or past $5, or 0: a page written without
// WAL (zero-extended, a hash index's bucket hole) may differ from the prior copy whatever its LSN.

// pageLSN is the SQL expression of a page's pd_lsn as a bigint, from bytea col at byte offset
// off: the page header starts with xlogid then xrecoff, each a uint32 in the server's byte order,
// which the SQL takes for little-endian (x86-64, arm64). An LSN past 2^63 would
// come out negative; that is 8 EiB of WAL. Each shift stands in parentheses: SQL gives << and |
// the same precedence, left to right.
func pageLSN(col, off string) string {
	var parts []string
	for i, shift := range []int{56, 48, 40, 32, 24, 16, 8, 0} {
		// bytes 3..0 are xlogid's, high first; 7..4 xrecoff's.
		b := 3 - i
		if i >= 4 {
			b = 11 - i
		}
		parts = append(parts, fmt.Sprintf("(get_byte(%s, %s + %d)::int8 << %d)", col, off, b, shift))
	}
	return "(" + strings.Join(parts, " | ") + ")"
}

const windowsSQL = `unnest($1::int4[], $2::text[], $3::int8[], $4::int8[]) AS t(i, path, first, count)`

// windowScanSQL reads each window in one pg_read_binary_file call and looks at every page header
// in it. OFFSET 0 keeps each subquery from being pulled up into the one above, where the planner
// would copy the expression into every use: eight reads of the window per page, or the LSN
// computed twice.
func windowScanSQL() string {
	return `
SELECT i, first + n FROM (
    SELECT w.i, w.first, b.n, ` + pageLSN("w.d", "b.n * $6::int4") + ` AS lsn
      FROM (SELECT t.i, t.first, pg_read_binary_file(t.path, t.first * $6::int8, t.count * $6::int8, true) AS d
              FROM ` + windowsSQL + ` OFFSET 0) AS w,
           LATERAL generate_series(0, length(w.d) / $6::int4 - 1) AS b(n)
    OFFSET 0) AS p
 WHERE lsn >= $5::int8 OR lsn = 0`
}
