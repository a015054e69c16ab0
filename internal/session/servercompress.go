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
	// Version 6 lets the caller name the codec, and helper_codecs lists those the server has.
	HelperVersion = 6
	// HelperRead is the reading function's signature as the fetch workers call it.
	HelperRead = "pgpull.read_compressed(text, bigint, bigint, text)"
	// HelperVersionFunc reports the installed helper's version.
	HelperVersionFunc = "pgpull.helper_version()"
	// HelperCodecsFunc lists the codecs the server's Python has, the fastest first.
	HelperCodecsFunc = "pgpull.helper_codecs()"
	// HelperCPUsFunc is how many CPUs the server's backends may run on: the fetch connections'
	// helpers share them.
	HelperCPUsFunc = "pgpull.helper_cpus()"
)

// Codecs the helper may compress with, the fastest first. Measured with Debian's python3-lz4 and
// python3-zstandard (1 MB calls, CPU time, the mixed data set's files): lz4's block format
// compressed repetitive text at 871 MB/s to 35%, zstd level 1 at 380 MB/s to 18%, zstd's negative
// levels no faster; pgbench scale 20 went on the wire as 39 MB in lz4 and 16 MB in zstd. zlib
// level 1 (the standard library, so always there) is slow on incompressible data.
const (
	CodecLZ4  = "lz4"
	CodecZstd = "zstd"
	CodecZlib = "zlib"
)

// helperCodecs is the Python of pgpull.helper_codecs. It looks for the modules without importing
// them: a fresh backend imports zstandard in 55 ms, lz4.block in 3 ms, and this runs on the
// control session before the backup starts.
const helperCodecs = `
import importlib.util
have = []
for name, module in (('lz4', 'lz4.block'), ('zstd', 'zstandard')):
    try:
        if importlib.util.find_spec(module) is not None:
            have.append(name)
    except (ImportError, ValueError):
        pass
return have + ['zlib']
`

// helperBody is the Python of pgpull.read_compressed. It runs as the superuser that installed
// it (SECURITY DEFINER), so it must refuse what pg_read_binary_file refuses a role without
// pg_read_server_files: it reads only paths relative to the data directory (tablespaces through
// their pg_tblspc links), never one with a ".." component or an absolute one. A file that does
// not exist gives NULL, as pg_read_binary_file(..., missing_ok => true) does. The result's first
// byte names the codec ('L' lz4 block, 'S' zstd frame, 'Z' zlib), or 'R' the bytes as they are
// when zlib finds the first 64 kB incompressible: zlib level 1 compressed random bytes at 10 MB/s
// on the bench machine. A codec's module is imported on its first use in a backend, so that a
// backend compressing with lz4 does not pay for zstandard's import. It reads into one buffer kept
// for the session: a fresh 1 MB bytes object per call (f.read) made the helper take 5.4 s for a
// 123 MB file that pg_read_binary_file read in 0.15 s, the page faults of each new allocation
// costing more than the compression.
const helperBody = `
import os, zlib
if 'root' not in SD:
    SD['root'] = plpy.execute("SELECT current_setting('data_directory') AS d")[0]['d']
    SD['buf'] = bytearray()
    SD['codecs'] = {}
if codec not in SD['codecs']:
    try:
        if codec == 'lz4':
            import lz4.block
            SD['codecs'][codec] = (b'L', lambda d: lz4.block.compress(d, store_size=False))
        elif codec == 'zstd':
            import zstandard
            SD['codecs'][codec] = (b'S', zstandard.ZstdCompressor(level=1).compress)
        elif codec == 'zlib':
            SD['codecs'][codec] = (b'Z', None)
        else:
            plpy.error('pgpull.read_compressed: no codec %r; use lz4, zstd or zlib' % codec)
    except ImportError:
        plpy.error("pgpull.read_compressed: the server's Python lacks the module for %s" % codec)
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
tag, compress = SD['codecs'][codec]
if compress is not None:
    return tag + compress(data)
probe = data[:65536]
if len(zlib.compress(probe, 1)) > len(probe) * 9 // 10:
    return b'R' + data
return b'Z' + zlib.compress(data, 1)
`

// cpusBody is the Python of pgpull.helper_cpus: the CPUs this backend may run on, which a
// cpuset or taskset narrows (a CPU quota does not show here).
const cpusBody = `
import os
return len(os.sched_getaffinity(0))
`

// HelperSQL is the SQL a superuser runs to install (or upgrade) the server-compress helper and
// let role call it, and no one else.
func HelperSQL(role string) string {
	return HelperInstallSQL(role, fmt.Sprintf("The server-compress helper, version %d, for pgpull backup --server-compress", HelperVersion),
		"any file", []string{
			// Versions before 6 had a three-argument read_compressed and helper_codec; quietly, as
			// a first install has neither.
			"SET client_min_messages = warning;",
			"DROP FUNCTION IF EXISTS pgpull.read_compressed(text, bigint, bigint);",
			"DROP FUNCTION IF EXISTS pgpull.helper_codec();",
			"RESET client_min_messages;",
			fmt.Sprintf("CREATE OR REPLACE FUNCTION pgpull.read_compressed(path text, start bigint, count bigint, codec text) RETURNS bytea\n"+
				"LANGUAGE plpython3u STRICT VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $pgpull$%s$pgpull$;", helperBody),
			fmt.Sprintf("CREATE OR REPLACE FUNCTION %s RETURNS text[] LANGUAGE plpython3u STABLE AS $pgpull$%s$pgpull$;", HelperCodecsFunc, helperCodecs),
			fmt.Sprintf("CREATE OR REPLACE FUNCTION %s RETURNS int LANGUAGE plpython3u STABLE AS $pgpull$%s$pgpull$;", HelperCPUsFunc, cpusBody),
			fmt.Sprintf("CREATE OR REPLACE FUNCTION %s RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT %d';", HelperVersionFunc, HelperVersion),
		}, []string{HelperRead, HelperCodecsFunc, HelperCPUsFunc, HelperVersionFunc})
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
// one line how to mend it when not; it returns the codecs the helper has there, the fastest first.
// A helper in order costs one round trip, which counts on a slow link (Inspect's batch can carry
// it too): its version and codecs are asked for first. Only when that fails are the catalogs read,
// which every role may, so that a missing schema or grant reads as such rather than as a
// permission error.
func CheckHelper(ctx context.Context, conn *pgx.Conn) (codecs []string, err error) {
	var h helperCheck
	return h.settle(ctx, conn, runSteps(ctx, conn, h.step()))
}

// helperCheck is CheckHelper's one statement, as a step of a batch, and what it read.
type helperCheck struct {
	version int
	codecs  []string
	reads   bool
}

// helperCallError is the helper check's own failure, told apart from its batch's other steps'.
type helperCallError struct{ err error }

func (e helperCallError) Error() string { return e.err.Error() }
func (e helperCallError) Unwrap() error { return e.err }

func (h *helperCheck) step() step {
	q := "SELECT " + HelperVersionFunc + ", " + HelperCodecsFunc + ", has_function_privilege('" + HelperRead + "', 'EXECUTE')"
	return step{sql: q, read: func(rows pgx.Rows) error {
		if err := scanOne(rows, &h.version, &h.codecs, &h.reads); err != nil {
			return helperCallError{err}
		}
		return nil
	}}
}

// settle is the check's answer once its step ran with err.
func (h *helperCheck) settle(ctx context.Context, conn *pgx.Conn, err error) ([]string, error) {
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("looking for the server-compress helper: %w", err)
	case err != nil, !h.reads:
		return nil, diagnoseHelper(ctx, conn)
	case h.version != HelperVersion:
		return nil, staleHelper(h.version, helperInstall(conn))
	}
	return h.codecs, nil
}

// PickCodec is the codec to compress with among those the helper has (CheckHelper's order):
// want when it is there, or with want "" the fastest, lz4 where the server has it. Each fetch
// connection's backend pays for its codec's import (lz4 3 ms, zstandard 55 ms) and the helper's
// CPU is shared by the -j connections, while a link that caps each connection rather than all of
// them carries more the more connections there are: there the faster codec wins. It fails in one
// line naming what to install or to ask for instead.
func PickCodec(have []string, want string) (string, error) {
	if want == "" && len(have) > 0 {
		return have[0], nil
	}
	for _, c := range have {
		if c == want {
			return c, nil
		}
	}
	module := map[string]string{CodecZstd: "python3-zstandard", CodecLZ4: "python3-lz4"}[want]
	return "", fmt.Errorf("--server-compress: the server's Python has no %s (it has %s); install %s in the Python PL/Python embeds, or ask for %s",
		want, strings.Join(have, ", "), module, have[0])
}

// diagnoseHelper says why the helper cannot be called: it is missing, the role may not call it,
// or it is a version that predates helper_codecs.
func diagnoseHelper(ctx context.Context, conn *pgx.Conn) error {
	const q = `SELECT current_user::text,
		CASE WHEN to_regnamespace('pgpull') IS NULL THEN false ELSE has_schema_privilege('pgpull', 'USAGE') END,
		EXISTS (SELECT FROM pg_proc p WHERE p.pronamespace = to_regnamespace('pgpull') AND p.proname = 'read_compressed'),
		coalesce((SELECT bool_and(has_function_privilege(p.oid, 'EXECUTE')) FROM pg_proc p
			WHERE p.pronamespace = to_regnamespace('pgpull') AND p.proname IN ('read_compressed', 'helper_codecs', 'helper_cpus', 'helper_version')), false)`
	var role string
	var usage, installed, execute bool
	if err := conn.QueryRow(ctx, q).Scan(&role, &usage, &installed, &execute); err != nil {
		return fmt.Errorf("looking for the server-compress helper: %w", err)
	}
	install := installAdvice(role)
	switch {
	case !installed:
		return fmt.Errorf("--server-compress needs pgpull's helper function, which this server lacks; %s", install)
	case !usage || !execute:
		return fmt.Errorf("role %q may not call pgpull's server-compress helper; %s", role, install)
	}
	// A helper older than version 6 has no helper_codecs: its version alone says what to do.
	var version int
	if err := conn.QueryRow(ctx, "SELECT "+HelperVersionFunc).Scan(&version); err != nil {
		return fmt.Errorf("--server-compress: reading the helper's version: %w; %s", err, install)
	}
	if version != HelperVersion {
		return staleHelper(version, install)
	}
	return fmt.Errorf("--server-compress: the server's helper (version %d) does not name its codecs; to repair it, %s", version, install)
}

// helperInstall is installAdvice for the role on conn, which the connection's settings name.
func helperInstall(conn *pgx.Conn) string { return installAdvice(conn.Config().User) }

func installAdvice(role string) string {
	return fmt.Sprintf("as a superuser, run the SQL that `pgpull grants --server-compress DSN %s` prints", pgx.Identifier{role}.Sanitize())
}

func staleHelper(version int, install string) error {
	return fmt.Errorf("--server-compress: the server's helper is version %d and this pgpull needs version %d; to upgrade it, %s",
		version, HelperVersion, install)
}
