package changes

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgpull/pgpull/internal/session"
)

// The page-LSN helper is a PL/Python function that does what the page scans in plain SQL do: it
// reads each window of a relation file into one buffer kept for the session and walks the page
// headers there, where SQL allocates each window afresh and calls get_byte eight times a page.
// Reading dominates both: on a 198 MB table in the page cache (BenchmarkPageScan) the helper took
// 32-38 ms and SQL 44-53 ms, so plain SQL is no hardship where PL/Python is missing. It belongs to
// the schema the server-compress helper installs into, and is installed and versioned on its own.
const (
	// HelperVersion is the page-LSN helper's version this pgpull calls; raise it whenever the SQL
	// changes.
	HelperVersion = 1
	// HelperScan is the scanning function's signature.
	HelperScan = "pgpull.changed_pages(integer[], text[], bigint[], bigint[], bigint, integer)"
	// HelperVersionFunc reports the installed page-LSN helper's version.
	HelperVersionFunc = "pgpull.changed_pages_version()"
)

// helperScanSQL calls the helper with the page scans' parameters.
const helperScanSQL = `SELECT i, block FROM pgpull.changed_pages($1::int4[], $2::text[], $3::int8[], $4::int8[], $5::int8, $6::int4)`

// helperBody is the Python of pgpull.changed_pages. It runs as the superuser that installed it
// (SECURITY DEFINER), so it refuses what pg_read_binary_file refuses a role without
// pg_read_server_files: absolute paths and paths with a ".." component. A missing file has no
// changed pages: the fetch that follows finds it gone. The window buffer is kept for the session,
// since a fresh 8 MB object per window costs its page faults each time. pd_lsn is the page's
// first two uint32, xlogid and xrecoff, in the server's byte order: memoryview's native 'I'.
const helperBody = `
import os
if 'root' not in SD:
    SD['root'] = plpy.execute("SELECT current_setting('data_directory') AS d")[0]['d']
    SD['buf'] = bytearray()
if blocksize < 8 or blocksize % 4 != 0:
    plpy.error('pgpull.changed_pages: block size %d out of range' % blocksize)
if not (len(idx) == len(paths) == len(firsts) == len(counts)):
    plpy.error('pgpull.changed_pages: the arrays differ in length')
window = max(1, (8 << 20) // blocksize)
step = blocksize // 4
out = []
for i, path, first, count in zip(idx, paths, firsts, counts):
    if not path or path.startswith('/') or '..' in path.split('/'):
        plpy.error('pgpull.changed_pages reads only paths relative to the data directory without "..", not %r' % path)
    if first is None or count is None or first < 0 or count < 0:
        plpy.error('pgpull.changed_pages: blocks %r to %r out of range' % (first, count))
    try:
        fd = os.open(os.path.join(SD['root'], path), os.O_RDONLY)
    except FileNotFoundError:
        continue
    try:
        blk, end = first, first + count
        while blk < end:
            n = min(end - blk, window)
            if len(SD['buf']) < n * blocksize:
                SD['buf'] = bytearray(n * blocksize)
            view = memoryview(SD['buf'])[:n * blocksize]
            got = os.preadv(fd, [view], blk * blocksize) // blocksize
            words = view[:got * blocksize].cast('I')
            for j, (hi, lo) in enumerate(zip(words[0::step], words[1::step])):
                lsn = hi << 32 | lo
                if lsn >= since or lsn == 0:
                    out.append((i, blk + j))
            words.release()
            view.release()
            if got < n:
                break
            blk += n
    finally:
        os.close(fd)
return out
`

// HelperSQL is the SQL a superuser runs to install (or upgrade) the page-LSN helper and let role
// call it, and no one else.
func HelperSQL(role string) string {
	return session.HelperInstallSQL(role, fmt.Sprintf("The page-LSN helper, version %d, for pgpull backup --incremental-from", HelperVersion),
		"the page headers of files", []string{
			fmt.Sprintf("CREATE OR REPLACE FUNCTION pgpull.changed_pages(idx integer[], paths text[], firsts bigint[], counts bigint[], since bigint, blocksize integer)\n"+
				"RETURNS TABLE (i integer, block bigint)\n"+
				"LANGUAGE plpython3u STRICT VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $pgpull$%s$pgpull$;", helperBody),
			fmt.Sprintf("CREATE OR REPLACE FUNCTION %s RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT %d';", HelperVersionFunc, HelperVersion),
		}, []string{HelperScan, HelperVersionFunc})
}

// CheckHelper reports whether the role on conn may call the page-LSN helper this pgpull expects;
// when not, why says so in a line that names the way to install it. It reads the catalogs, which
// every role may, before calling anything, so that a missing helper reads as such rather than as
// a permission error.
func CheckHelper(ctx context.Context, conn *pgx.Conn) (ok bool, why string, err error) {
	const q = `SELECT current_user::text,
		coalesce(has_schema_privilege(to_regnamespace('pgpull')::oid, 'USAGE'), false)
			AND (SELECT count(*) FILTER (WHERE has_function_privilege(p.oid, 'EXECUTE')) = 2 FROM pg_proc p
				WHERE p.pronamespace = to_regnamespace('pgpull') AND p.proname IN ('changed_pages', 'changed_pages_version')),
		EXISTS (SELECT FROM pg_proc p WHERE p.pronamespace = to_regnamespace('pgpull') AND p.proname = 'changed_pages')`
	var role string
	var callable, installed bool
	if err := conn.QueryRow(ctx, q).Scan(&role, &callable, &installed); err != nil {
		return false, "", fmt.Errorf("looking for the page-LSN helper: %w", err)
	}
	install := fmt.Sprintf("as a superuser, run the SQL that `pgpull grants --incremental DSN %s` prints", pgx.Identifier{role}.Sanitize())
	switch {
	case !installed:
		return false, "the server lacks pgpull's page-LSN helper; for a faster scan, " + install, nil
	case !callable:
		return false, fmt.Sprintf("role %q may not call pgpull's page-LSN helper; for a faster scan, %s", role, install), nil
	}
	var version int
	if err := conn.QueryRow(ctx, "SELECT "+HelperVersionFunc).Scan(&version); err != nil {
		return false, "", fmt.Errorf("reading the page-LSN helper's version: %w", err)
	}
	if version != HelperVersion {
		return false, fmt.Sprintf("the server's page-LSN helper is version %d and this pgpull needs %d; to upgrade it, %s", version, HelperVersion, install), nil
	}
	return true, "", nil
}
