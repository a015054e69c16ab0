package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// destArg stands for each case's DEST in its arguments.
const destArg = "{DEST}"

// TestPgBasebackupSpellings calls pgpull backup as pg_basebackup is called: each spelling either
// writes what pg_basebackup would write there, or is refused in one line naming what pgpull takes
// instead, with nothing written and nothing left on the server.
func TestPgBasebackupSpellings(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	port := strconv.Itoa(src.Port)
	socket := []string{"-h", src.SocketDir, "-p", port, "-U", "postgres"}
	tcp := []string{"-h", "127.0.0.1", "-p", port, "-U", "postgres", "-w"}
	with := func(conn []string, rest ...string) []string { return append(append([]string{}, conn...), rest...) }
	tests := []struct {
		name  string
		args  []string
		files []string // under DEST once done; none for a refusal
		code  int
		err   string // a part of the refusal
	}{
		{"-h -p -U -D, no DSN", with(socket, "-D", destArg, "-c", "fast"), []string{"PG_VERSION", "backup_manifest", "global/pg_control"}, 0, ""},
		{"-d CONNSTR -Fp -X stream -P -v -N", []string{"-d", src.DSN(), "-D", destArg, "-Fp", "-X", "stream", "-c", "fast", "-P", "-v", "-N"},
			[]string{"PG_VERSION", "backup_manifest"}, 0, ""},
		{"-d DBNAME beside -h -p -U", with(socket, "-d", "postgres", "-D", destArg, "-c", "fast"), []string{"PG_VERSION"}, 0, ""},
		{"TCP with -w, -Ft -z", with(tcp, "-D", destArg, "-Ft", "-z", "-c", "fast"), []string{"base.tar.gz", "backup_manifest"}, 0, ""},
		{"-Ft -Z zstd:1", with(socket, "-D", destArg, "-Ft", "-Z", "zstd:1", "-c", "fast"), []string{"base.tar.zst"}, 0, ""},
		{"-Ft -Z 5, a gzip level", with(socket, "-D", destArg, "-Ft", "-Z", "5", "-c", "fast"), []string{"base.tar.gz"}, 0, ""},
		{"--compress=client-gzip:level=1,workers=2", with(socket, "-D", destArg, "-Ft", "--compress=client-gzip:level=1,workers=2", "-c", "fast"),
			[]string{"base.tar.gz"}, 0, ""},
		{"-c FAST -l LABEL --no-estimate-size", with(socket, "-D", destArg, "-c", "FAST", "-l", "nightly", "--no-estimate-size"), []string{"backup_label"}, 0, ""},
		{"-t server:DIR", with(socket, "-D", destArg, "-t", "server:/tmp/x"), nil, 2, "-t/--target is not offered"},
		{"--waldir", with(socket, "-D", destArg, "--waldir=/tmp/w"), nil, 2, "--waldir is not offered"},
		{"-n", with(socket, "-D", destArg, "-n"), nil, 2, "-n/--no-clean is not offered"},
		{"--no-slot", with(socket, "-D", destArg, "--no-slot"), nil, 2, "--no-slot is not offered"},
		{"-s 10", with(socket, "-D", destArg, "-s", "10"), nil, 2, "-s/--status-interval is not offered: pgpull streams no WAL"},
		{"--manifest-force-encode", with(socket, "-D", destArg, "--manifest-force-encode"), nil, 2, "--manifest-force-encode is not offered"},
		{"-V", []string{"-V"}, nil, 2, "-V/--version is not offered: pgpull --version prints it"},
		{"--debug of old", with(socket, "-D", destArg, "--debug"), nil, 2, "--debug is not offered: it is --show-sql now"},
		{"-Z lz4", with(socket, "-D", destArg, "-Ft", "-Z", "lz4"), nil, 2, "-Z zstd:1 is about as quick"},
		{"-Z server-lz4 -Ft", with(socket, "-D", destArg, "-Ft", "-Z", "server-lz4"), nil, 2, "use -Z server-zstd"},
		{"-Z zstd:long", with(socket, "-D", destArg, "-Ft", "-Z", "zstd:long"), nil, 2, "long mode is not offered"},
		{"-C without -S", with(socket, "-D", destArg, "-C"), nil, 2, "-C/--create-slot needs the slot's name: add -S NAME"},
		{"-S of no slot", with(socket, "-D", destArg, "-S", "nosuchslot"), nil, 1, `replication slot "nosuchslot" does not exist: add -C`},
		{"-d beside a DSN", []string{"-d", src.DSN(), src.DSN(), destArg}, nil, 2, "the connection is given twice"},
		{"-w and -W", with(socket, "-w", "-W", "-D", destArg), nil, 2, "exclude each other"},
		{"-h given a connection string", []string{"-h", src.DSN(), destArg}, nil, 2, "-h/--host takes a host name"},
		{"-p not a port", []string{"-p", "54x", "-D", destArg}, nil, 2, `-p/--port "54x" is no TCP port`},
		{"-z with a METHOD, as pgpull once took it", with(socket, "-z", "zstd", src.DSN(), destArg), nil, 2, "-z takes no value"},
	}
	base := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(base, strconv.Itoa(i))
			args := []string{"backup"}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, destArg, dest))
			}
			code, stdout, stderr := runCLIOut(t, args...)
			if stdout != "" {
				t.Errorf("stdout %q; want nothing", stdout)
			}
			if tt.code != 0 {
				if code != tt.code || !strings.Contains(stderr, tt.err) {
					t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.err)
				}
				checkOneLine(t, stderr)
				checkGone(t, dest)
				checkServerClean(t, src)
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, f := range tt.files {
				if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
					t.Errorf("no %s in DEST: %v", f, err)
				}
			}
			if code, stderr := runCLI(t, nil, "verify", dest); code != 0 {
				t.Errorf("pgpull verify: exit %d: %s", code, stderr)
			}
			if slices.Contains(tt.args, "nightly") {
				if label, err := os.ReadFile(filepath.Join(dest, "backup_label")); err != nil || !strings.Contains(string(label), "LABEL: nightly") {
					t.Errorf("-l nightly: backup_label %q (%v)", label, err)
				}
			}
			checkServerClean(t, src)
		})
	}
}

// TestBackupStandbySlot makes a standby as pg_basebackup -R -C -S does: the slot exists once the
// backup is done, reserving WAL, and the copy names it in primary_slot_name; a backup that fails
// drops the slot it created.
func TestBackupStandbySlot(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	dest := filepath.Join(t.TempDir(), "standby")
	if code, stderr := runCLI(t, nil, "backup", "-R", "-C", "-S", "standby1", "-c", "fast", "-d", src.DSN(), "-D", dest); code != 0 {
		t.Fatalf("backup -R -C -S: exit %d: %s", code, stderr)
	}
	conf, err := os.ReadFile(filepath.Join(dest, "postgresql.auto.conf"))
	if err != nil || !strings.Contains(string(conf), "primary_slot_name = 'standby1'") {
		t.Errorf("postgresql.auto.conf lacks primary_slot_name = 'standby1' (%v):\n%s", err, conf)
	}
	reserved, err := src.QueryString(ctx, `SELECT (restart_lsn IS NOT NULL)::text FROM pg_replication_slots WHERE slot_name = 'standby1' AND NOT temporary`)
	if err != nil || reserved != "true" {
		t.Errorf("slot standby1 after the backup: reserving WAL %q (%v); want a permanent slot holding WAL", reserved, err)
	}
	if code, stderr := runCLI(t, nil, "backup", "-C", "-S", "standby1", "-c", "fast", src.DSN(), filepath.Join(t.TempDir(), "again")); code != 1 ||
		!strings.Contains(stderr, `replication slot "standby1" already exists`) {
		t.Errorf("-C of an existing slot: exit %d, %q; want it refused", code, stderr)
	}
	if code, stderr := runCLI(t, nil, "backup", "-R", "-S", "standby1", "-c", "fast", src.DSN(), filepath.Join(t.TempDir(), "reuse")); code != 0 {
		t.Errorf("-S of the existing slot: exit %d: %s", code, stderr)
	}
	if err := src.Exec(ctx, `SELECT pg_drop_replication_slot('standby1')`); err != nil {
		t.Fatal(err)
	}
	// The slot is made before DEST is opened, which is where -T of no tablespace of the server fails.
	failed := filepath.Join(t.TempDir(), "failed")
	if code, stderr := runCLI(t, nil, "backup", "-T", "/no/such/tablespace=/tmp/x", "-C", "-S", "failed1", "-c", "fast", src.DSN(), failed); code != 1 ||
		!strings.Contains(stderr, "names no tablespace") {
		t.Errorf("-T of no tablespace: exit %d, %q; want the failure", code, stderr)
	}
	checkGone(t, failed)
	checkServerClean(t, src)
}

// TestBackupServerCompressSpelling: --compress=server-zstd:1, pg_basebackup's spelling, reads
// through the helper with zstd at level 1, as asked, and writes base.tar.zst as pg_basebackup -Ft
// would; a level the helper does not use is reported in one line.
func TestBackupServerCompressSpelling(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	requirePlpython(t, src)
	var helper bytes.Buffer
	if code, stderr := runCLI(t, &helper, "grants", "--server-compress", src.DSN(), "postgres"); code != 0 {
		t.Fatalf("pgpull grants --server-compress: exit %d: %s", code, stderr)
	}
	applySQL(t, src, helper.String())
	dest := filepath.Join(t.TempDir(), "tar")
	code, stderr := runCLI(t, nil, "backup", "-D", dest, "-Ft", "--compress=server-zstd:1", "-c", "fast", "-v", "-d", src.DSN())
	if code != 0 {
		t.Fatalf("--compress=server-zstd:1: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "the server's helper compresses with zstd (it has") || strings.Contains(stderr, "at its own level") {
		t.Errorf("-v does not say the helper compresses with zstd at the level asked for:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dest, "base.tar.zst")); err != nil {
		t.Errorf("no base.tar.zst: %v", err)
	}
	if code, stderr := runCLI(t, nil, "verify", dest); code != 0 {
		t.Errorf("pgpull verify: exit %d: %s", code, stderr)
	}
	other := filepath.Join(t.TempDir(), "level9")
	if code, stderr = runCLI(t, nil, "backup", "-D", other, "-Fp", "--compress=server-zstd:9", "-c", "fast", "-d", src.DSN()); code != 0 ||
		!strings.Contains(stderr, "-Z server-zstd:9: the server's helper compresses what it sends with zstd at its own level") {
		t.Errorf("--compress=server-zstd:9: exit %d; want it taken and the level reported:\n%s", code, stderr)
	}
	checkServerClean(t, src)
}
