package session

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The server-compress helper is a PL/Python function that reads a range of a file in the data
// directory and returns it compressed, so that --server-compress sends fewer bytes over a slow
// link than pg_read_binary_file does. Stock SQL has no compression function, hence Python.
const (
	// HelperVersion is the helper's version this pgpull calls; raise it whenever the SQL changes.
	HelperVersion = 4
	// HelperRead is the reading function's signature as the fetch workers call it.
	HelperRead = "pgpull.read_compressed(text, bigint, bigint)"
	// HelperVersionFunc reports the installed helper's version.
	HelperVersionFunc = "pgpull.helper_version()"
	// HelperCodecFunc names the codec the helper compresses with on this server.
	HelperCodecFunc = "pgpull.helper_codec()"
)

// helperCodec is the Python both helper functions share to pick the codec: the fastest the
// server's Python has. Measured with Debian's python3-lz4 and python3-zstandard (1 MB calls, CPU
// time, the mixed data set's files): lz4's block format compressed repetitive text at 871 MB/s to
// 35%, zstd level 1 at 380 MB/s to 18%, zstd's negative levels no faster; importing lz4.block
// took 3 ms in a fresh backend, zstandard 55 ms, paid once by each of the -j connections. zlib
// level 1 (the standard library) is the fallback. The first byte of each value names the codec.
const helperCodec = `
def pick_codec():
    try:
        import lz4.block
        return 'lz4', b'L', lambda d: lz4.block.compress(d, store_size=False)
    except ImportError:
        pass
    try:
        import zstandard
        return 'zstd', b'S', zstandard.ZstdCompressor(level=1).compress
    except ImportError:
        pass
    return 'zlib', b'Z', None
`

// helperBody is the Python of pgpull.read_compressed. It runs as the superuser that installed
// it (SECURITY DEFINER), so it must refuse what pg_read_binary_file refuses a role without
// pg_read_server_files: it reads only paths relative to the data directory (tablespaces through
// their pg_tblspc links), never one with a ".." component or an absolute one. A file that does
// not exist gives NULL, as pg_read_binary_file(..., missing_ok => true) does. The result's first
// byte names the codec ('L' lz4 block, 'S' zstd frame, 'Z' zlib), or 'R' the bytes as they are
// when zlib finds the first 64 kB incompressible: zlib level 1 compressed random bytes at 10 MB/s
// on the bench machine. It reads into one buffer kept for the session: a fresh 1 MB bytes object
// per call (f.read) made the helper take 5.4 s for a 123 MB file that pg_read_binary_file read in
// 0.15 s, the page faults of each new allocation costing more than the compression.
const helperBody = helperCodec + `
import os, zlib
if 'root' not in SD:
    SD['root'] = plpy.execute("SELECT current_setting('data_directory') AS d")[0]['d']
    SD['buf'] = bytearray()
    SD['codec'] = pick_codec()
if path == '' or path.startswith('/') or '..' in path.split('/'):
    plpy.error('pgpull.read_compressed reads only paths relative to the data directory without "..", not %r' % path)
if start < 0 or count < 0 or count > 1073741823:
    plpy.error('pgpull.read_compressed: offset %d or length %d out of range' % (start, count))
try:
    fd = os.open(os.path.join(SD['root'], path), os.O_RDONLY)
except FileNotFoundError:
    return None
try:
    if len(SD['buf']) < count:
        SD['buf'] = bytearray(count)
    data = memoryview(SD['buf'])[:count]
    data = data[:os.preadv(fd, [data], start)]
finally:
    os.close(fd)
name, tag, compress = SD['codec']
if compress is not None:
    return tag + compress(data)
probe = data[:65536]
if len(zlib.compress(probe, 1)) > len(probe) * 9 // 10:
    return b'R' + data
return b'Z' + zlib.compress(data, 1)
`

// codecBody is the Python of pgpull.helper_codec, which names the codec read_compressed uses
// on this server, for -v and --summary.
const codecBody = helperCodec + `
return pick_codec()[0]
`

// HelperSQL is the SQL a superuser runs to install (or upgrade) the server-compress helper and
// let role call it, and no one else.
func HelperSQL(role string) string {
	return HelperInstallSQL(role, fmt.Sprintf("The server-compress helper, version %d, for pgpull backup --server-compress", HelperVersion),
		"any file", []string{
			fmt.Sprintf("CREATE OR REPLACE FUNCTION pgpull.read_compressed(path text, start bigint, count bigint) RETURNS bytea\n"+
				"LANGUAGE plpython3u STRICT VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $pgpull$%s$pgpull$;", helperBody),
			fmt.Sprintf("CREATE OR REPLACE FUNCTION %s RETURNS text LANGUAGE plpython3u STABLE AS $pgpull$%s$pgpull$;", HelperCodecFunc, codecBody),
			fmt.Sprintf("CREATE OR REPLACE FUNCTION %s RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT %d';", HelperVersionFunc, HelperVersion),
		}, []string{HelperRead, HelperCodecFunc, HelperVersionFunc})
}

// HelperInstallSQL is the SQL that installs one of pgpull's PL/Python helpers in the schema
// pgpull, closed to PUBLIC: what it is and what it reads, as comments, then the extension, the
// schema, the creates, and EXECUTE on functions (and USAGE on the schema) for role only. The
// functions run as the superuser who installs them (SECURITY DEFINER), so that role needs no more.
func HelperInstallSQL(role, title, reads string, creates, functions []string) string {
	r := pgx.Identifier{role}.Sanitize()
	var b strings.Builder
	fmt.Fprintf(&b, "-- %s; run as a superuser.\n", title)
	fmt.Fprintf(&b, "-- It reads, as the superuser who runs this, %s under the data directory and its tablespaces,\n"+
		"-- the files pg_read_binary_file lets %s read; EXECUTE goes to %s only.\n", reads, r, r)
	b.WriteString("CREATE EXTENSION IF NOT EXISTS plpython3u;\n")
	b.WriteString("CREATE SCHEMA IF NOT EXISTS pgpull;\n")
	b.WriteString("REVOKE ALL ON SCHEMA pgpull FROM PUBLIC;\n")
	for _, c := range creates {
		b.WriteString(c + "\n")
	}
	for _, f := range functions {
		fmt.Fprintf(&b, "REVOKE ALL ON FUNCTION %s FROM PUBLIC;\n", f)
		fmt.Fprintf(&b, "GRANT EXECUTE ON FUNCTION %s TO %s;\n", f, r)
	}
	fmt.Fprintf(&b, "GRANT USAGE ON SCHEMA pgpull TO %s;\n", r)
	return b.String()
}

// CheckHelper makes sure the role on conn may call the helper this pgpull expects, and says in
// one line how to mend it when not; it returns the codec the helper compresses with there. It reads the catalogs, which every role may, before calling
// anything, so that a missing schema or grant reads as such rather than as a permission error.
func CheckHelper(ctx context.Context, conn *pgx.Conn) (codec string, err error) {
	const q = `SELECT current_user::text,
		CASE WHEN to_regnamespace('pgpull') IS NULL THEN false ELSE has_schema_privilege('pgpull', 'USAGE') END,
		EXISTS (SELECT FROM pg_proc p WHERE p.pronamespace = to_regnamespace('pgpull') AND p.proname = 'read_compressed'),
		coalesce((SELECT bool_and(has_function_privilege(p.oid, 'EXECUTE')) FROM pg_proc p
			WHERE p.pronamespace = to_regnamespace('pgpull') AND p.proname IN ('read_compressed', 'helper_codec', 'helper_version')), false)`
	var role string
	var usage, installed, execute bool
	if err := conn.QueryRow(ctx, q).Scan(&role, &usage, &installed, &execute); err != nil {
		return "", fmt.Errorf("looking for the server-compress helper: %w", err)
	}
	install := fmt.Sprintf("as a superuser, run the SQL that `pgpull grants --server-compress DSN %s` prints", pgx.Identifier{role}.Sanitize())
	switch {
	case !installed:
		return "", fmt.Errorf("--server-compress needs pgpull's helper function, which this server lacks; %s", install)
	case !usage || !execute:
		return "", fmt.Errorf("role %q may not call pgpull's server-compress helper; %s", role, install)
	}
	// One round trip in the usual case, which counts on a slow link; a helper older than version 4
	// has no helper_codec, and then its version alone says what to do.
	q2 := "SELECT " + HelperVersionFunc + ", " + HelperCodecFunc
	var version int
	if err := conn.QueryRow(ctx, q2).Scan(&version, &codec); err == nil {
		if version != HelperVersion {
			return "", staleHelper(version, install)
		}
		return codec, nil
	}
	q3 := "SELECT " + HelperVersionFunc
	if err := conn.QueryRow(ctx, q3).Scan(&version); err != nil {
		return "", fmt.Errorf("--server-compress: reading the helper's version: %w; %s", err, install)
	}
	if version != HelperVersion {
		return "", staleHelper(version, install)
	}
	return "", fmt.Errorf("--server-compress: the server's helper (version %d) does not name its codec; to repair it, %s", version, install)
}

func staleHelper(version int, install string) error {
	return fmt.Errorf("--server-compress: the server's helper is version %d and this pgpull needs version %d; to upgrade it, %s",
		version, HelperVersion, install)
}
