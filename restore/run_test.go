package restore

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/backupcheck"
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/pgformat/walfixture"
)

// testSpace is the tablespace of the test backup.
const testSpace = "16384"

// testBackupFiles are a small backup's files, with real WAL (PostgreSQL 15's, 1 MiB segments)
// so that the check reads its records, by path in the backup.
func testBackupFiles(t *testing.T) (map[string][]byte, *walfixture.WAL) {
	t.Helper()
	wal, err := walfixture.Read(walfixture.Dir())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"PG_VERSION":        []byte("15\n"),
		"backup_label":      []byte("START WAL LOCATION: " + wal.Start + " (file " + wal.Names[0] + ")\nSTART TIMELINE: 1\n"),
		"base/1/1259":       bytes.Repeat([]byte("relation"), 4096),
		"base/1/empty":      {},
		"global/pg_control": bytes.Repeat([]byte{7}, 8192),
		"pg_tblspc/" + testSpace + "/PG_15_202209061/5/16390": bytes.Repeat([]byte("tablespace"), 100),
	}
	for i, name := range wal.Names {
		files["pg_wal/"+name] = wal.Segments[i]
	}
	return files, wal
}

// writePlainBackup writes the files as a plain backup, its tablespace in a directory of its own
// linked from pg_tblspc, with a CRC32C manifest; it returns the backup and the tablespace's
// directory.
func writePlainBackup(t *testing.T, files map[string][]byte, wal *walfixture.WAL) (string, string) {
	t.Helper()
	root, space := filepath.Join(t.TempDir(), "backup"), filepath.Join(t.TempDir(), "backup-ts")
	m := manifest.New(1, 0, manifest.CRC32C)
	for _, p := range slices.Sorted(maps.Keys(files)) {
		full := filepath.Join(root, p)
		if rest, ok := strings.CutPrefix(p, "pg_tblspc/"+testSpace+"/"); ok {
			full = filepath.Join(space, rest)
		}
		mustWrite(t, full, files[p])
		if !pgformat.IsSegmentPath(p) {
			h := manifest.CRC32C.New()
			h.Write(files[p])
			m.AddFile(p, int64(len(files[p])), time.Now(), h.Sum(nil))
		}
	}
	start, _ := pgformat.ParseLSN(wal.Start)
	stop, _ := pgformat.ParseLSN(wal.Stop)
	m.AddWALRange(1, uint64(start), uint64(stop))
	mustWrite(t, filepath.Join(root, "backup_manifest"), m.Bytes())
	if err := os.MkdirAll(filepath.Join(root, "pg_tblspc"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(space, filepath.Join(root, "pg_tblspc", testSpace)); err != nil {
		t.Fatal(err)
	}
	return root, space
}

func mustWrite(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// testOptions restores src into dir, its tablespace mapped to ts.
func testOptions(src, space, dir, ts string) Options {
	return Options{Sources: []Source{{Name: src, Path: src}}, Dir: dir, Mapping: map[string]string{space: ts},
		Checker: backupcheck.Checker{Readers: 4, Buffer: 4 << 10}, NoSync: true}
}

// TestRunPlain: a plain backup restored holds every file as the backup has it, the tablespace in
// its target linked from pg_tblspc, no tablespace_map, pg_control written, no marker.
func TestRunPlain(t *testing.T) {
	files, wal := testBackupFiles(t)
	src, space := writePlainBackup(t, files, wal)
	dir, ts := filepath.Join(t.TempDir(), "copy"), filepath.Join(t.TempDir(), "copy-ts")
	res, err := Run(context.Background(), testOptions(src, space, dir, ts))
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range files {
		full := filepath.Join(dir, p)
		if rest, ok := strings.CutPrefix(p, "pg_tblspc/"+testSpace+"/"); ok {
			full = filepath.Join(ts, rest)
		}
		if got, err := os.ReadFile(full); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want the backup's %d", p, len(got), err, len(want))
		}
	}
	if link, err := os.Readlink(filepath.Join(dir, "pg_tblspc", testSpace)); err != nil || link != ts {
		t.Errorf("pg_tblspc/%s leads to %q, %v; want %s", testSpace, link, err, ts)
	}
	if _, err := os.Stat(filepath.Join(dir, "pgpull_incomplete")); !os.IsNotExist(err) {
		t.Errorf("the marker is still there: %v", err)
	}
	if res.Tablespaces[testSpace] != ts || !res.WALWhole || res.Files != int64(len(files)-1) {
		t.Errorf("result %+v; want the tablespace in %s, the WAL whole, %d files streamed", res, ts, len(files)-1)
	}
}

// TestRunRefusedLeavesNothing: a backup with a byte changed is refused, and neither the data
// directory nor the tablespace's target, both made by the restore, is left; a target that was
// there empty is emptied again.
func TestRunRefusedLeavesNothing(t *testing.T) {
	files, wal := testBackupFiles(t)
	src, space := writePlainBackup(t, files, wal)
	p := filepath.Join(space, "PG_15_202209061", "5", "16390")
	b, _ := os.ReadFile(p)
	b[10] ^= 0xFF
	mustWrite(t, p, b)
	dir, ts := filepath.Join(t.TempDir(), "copy"), t.TempDir() // ts: there, empty
	_, err := Run(context.Background(), testOptions(src, space, dir, ts))
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("got %v, want a refusal naming the checksum mismatch", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", dir, err)
	}
	if empty, err := isEmpty(ts); err != nil || !empty {
		t.Errorf("the tablespace target %s not emptied again: %v", ts, err)
	}
}

// TestRunTablespaceRefusals: a plain backup's tablespace without -T would go where the backup's
// own copy is; a -T naming no tablespace; a -T into the data directory: each refused with the
// -T to give, nothing left.
func TestRunTablespaceRefusals(t *testing.T) {
	files, wal := testBackupFiles(t)
	src, space := writePlainBackup(t, files, wal)
	base := t.TempDir()
	dir := filepath.Join(base, "copy")
	tests := []struct {
		name    string
		mapping map[string]string
		want    string
	}{
		{"no -T", nil, "overlaps the backup's own " + space + ": map it elsewhere with -T " + space + "=NEWDIR"},
		{"-T naming nothing", map[string]string{space: base + "/ts", "/srv/none": base + "/other"}, "-T /srv/none: " + src + " has no tablespace there"},
		{"-T into the data directory", map[string]string{testSpace: dir + "/ts"}, "overlaps the data directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(src, space, dir, "")
			opts.Mapping = tt.mapping
			_, err := Run(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			for _, p := range []string{dir, base + "/ts", base + "/other"} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("%s left behind: %v", p, err)
				}
			}
		})
	}
}
