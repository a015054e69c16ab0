package backupcheck

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/pgformat/walfixture"
)

// Test backups carry real WAL: PostgreSQL 15's, in 1 MB segments (testdata/wal/15),
// so that verify reads its records, and has to infer the segment size from pg_wal.
const (
	testWALStart = "0/900028"
	testWALEnd   = "0/BA73B0"
	testSeg1     = "pg_wal/000000010000000000000009"
	testSeg2     = "pg_wal/00000001000000000000000A"
	testSeg3     = "pg_wal/00000001000000000000000B"
	testSpcFile  = "pg_tblspc/16384/PG_15_202209061/5/16390"
)

// testWAL is the fixture's WAL, read once.
var testWAL = sync.OnceValues(func() (*walfixture.WAL, error) { return walfixture.Read(walfixture.Dir()) })

// testChecker reads with a small buffer, so that files span many reads, and several readers.
var testChecker = Checker{Readers: 4, Buffer: 4 << 10}

// testBackup is a small backup held in memory: its files, and a manifest made from them before
// a test spoils either.
type testBackup struct {
	files    map[string][]byte
	manifest []byte
}

func newTestBackup(t testing.TB, alg manifest.Algorithm) *testBackup {
	t.Helper()
	return newVersionedTestBackup(t, alg, 1, 0)
}

// testSystemID is the system identifier the test backup's pg_control holds: its first 8 bytes.
const testSystemID = 0x0707070707070707

// newVersionedTestBackup is a test backup whose manifest has the given version and, for 2,
// System-Identifier.
func newVersionedTestBackup(t testing.TB, alg manifest.Algorithm, version int, systemID uint64) *testBackup {
	t.Helper()
	wal, err := testWAL()
	if err != nil {
		t.Fatal(err)
	}
	if wal.Start != testWALStart || wal.Stop != testWALEnd || "pg_wal/"+wal.Names[0] != testSeg1 || len(wal.Names) != 3 {
		t.Fatalf("the WAL fixture is not the one these tests expect: %s to %s in %v", wal.Start, wal.Stop, wal.Names)
	}
	files := map[string][]byte{
		"PG_VERSION":           []byte("15\n"),
		"backup_label":         []byte("START WAL LOCATION: 0/900028 (file 000000010000000000000009)\n"),
		"base/1/1259":          bytes.Repeat([]byte("relation"), 4096),
		"base/1/empty":         {},
		"global/pg_control":    bytes.Repeat([]byte{7}, 8192),
		"postgresql.auto.conf": []byte("# edited by restores\n"),
		testSpcFile:            bytes.Repeat([]byte("tablespace"), 100),
		testSeg1:               bytes.Clone(wal.Segments[0]),
		testSeg2:               bytes.Clone(wal.Segments[1]),
		testSeg3:               bytes.Clone(wal.Segments[2]),
	}
	m := manifest.New(version, systemID, alg)
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if pgformat.IsSegmentPath(p) {
			continue
		}
		var sum []byte
		if h := alg.New(); h != nil {
			h.Write(files[p])
			sum = h.Sum(nil)
		}
		m.AddFile(p, int64(len(files[p])), time.Unix(1700000000, 0), sum)
	}
	start, _ := pgformat.ParseLSN(testWALStart)
	end, _ := pgformat.ParseLSN(testWALEnd)
	m.AddWALRange(1, uint64(start), uint64(end))
	return &testBackup{files: files, manifest: m.Bytes()}
}

// form writes a testBackup in one of pgpull's layouts and returns the path to verify.
type form struct {
	name  string
	write func(t *testing.T, b *testBackup) string
}

func forms() []form {
	return []form{
		{"plain", writePlain},
		{"tar files", func(t *testing.T, b *testBackup) string { return writeTarFiles(t, b, compress.Spec{}) }},
		{"tar files zstd", func(t *testing.T, b *testBackup) string {
			return writeTarFiles(t, b, compress.Spec{Algorithm: compress.Zstd})
		}},
		{"stream", func(t *testing.T, b *testBackup) string { return writeStreamFile(t, b, compress.Spec{}) }},
		{"stream gzip", func(t *testing.T, b *testBackup) string {
			return writeStreamFile(t, b, compress.Spec{Algorithm: compress.Gzip})
		}},
		{"stream zstd", func(t *testing.T, b *testBackup) string {
			return writeStreamFile(t, b, compress.Spec{Algorithm: compress.Zstd})
		}},
	}
}

func writePlain(t *testing.T, b *testBackup) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "plain")
	space := filepath.Join(t.TempDir(), "space")
	for p, body := range b.files {
		full := filepath.Join(root, p)
		if rest, ok := strings.CutPrefix(p, "pg_tblspc/16384/"); ok {
			full = filepath.Join(space, rest)
		}
		mustWrite(t, full, body)
	}
	if err := os.MkdirAll(filepath.Join(root, "pg_tblspc"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(space, filepath.Join(root, "pg_tblspc", "16384")); err != nil {
		t.Fatal(err)
	}
	if b.manifest != nil {
		mustWrite(t, filepath.Join(root, manifestName), b.manifest)
	}
	return root
}

func writeTarFiles(t *testing.T, b *testBackup, spec compress.Spec) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tar")
	base, space := map[string][]byte{}, map[string][]byte{}
	for p, body := range b.files {
		if rest, ok := strings.CutPrefix(p, "pg_tblspc/16384/"); ok {
			space[rest] = body
		} else {
			base[p] = body
		}
	}
	mustWrite(t, filepath.Join(dir, "base.tar"+spec.Ext()), tarBytes(t, base, nil, spec))
	mustWrite(t, filepath.Join(dir, "16384.tar"+spec.Ext()), tarBytes(t, space, nil, spec))
	if b.manifest != nil {
		mustWrite(t, filepath.Join(dir, manifestName), b.manifest)
	}
	return dir
}

func writeStreamFile(t *testing.T, b *testBackup, spec compress.Spec) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "backup.stream") // no suffix: the content tells
	mustWrite(t, p, tarBytes(t, b.files, b.manifest, spec))
	return p
}

// tarBytes makes a tar archive of files, with a directory entry for each directory, sorted,
// then manifest (when not nil) as the last member, compressed as spec says.
func tarBytes(t testing.TB, files map[string][]byte, manifest []byte, spec compress.Spec) []byte {
	t.Helper()
	var out bytes.Buffer
	zw, err := compress.NewWriter(&out, spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		for d := filepath.Dir(p); d != "."; d = filepath.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o700}))
			}
		}
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o600, Size: int64(len(files[p]))}))
		_, err := tw.Write(files[p])
		must(t, err)
	}
	if manifest != nil {
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: manifestName, Mode: 0o600, Size: int64(len(manifest))}))
		_, err := tw.Write(manifest)
		must(t, err)
	}
	must(t, tw.Close())
	must(t, zw.Close())
	return out.Bytes()
}

func mustWrite(t *testing.T, p string, b []byte) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o700))
	must(t, os.WriteFile(p, b, 0o600))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func problemLines(rep *Report) []string {
	lines := make([]string, len(rep.Problems))
	for i, p := range rep.Problems {
		lines[i] = p.String()
	}
	return lines
}

func TestVerifyBackupForms(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(b *testBackup)
		want  []string // the problem lines, exactly; none for a whole backup
	}{
		{"whole", func(*testBackup) {}, nil},
		{"ignored files differ", func(b *testBackup) {
			b.files["postgresql.auto.conf"] = []byte("primary_conninfo = 'x'\n")
			b.files["recovery.signal"] = []byte{}
			b.files["pg_wal/archive_status/000000010000000000000009.done"] = []byte{}
		}, nil},
		{"flipped byte", func(b *testBackup) { b.files["base/1/1259"][5000] ^= 0x40 }, []string{"base/1/1259: checksum mismatch"}},
		{"flipped byte in a tablespace", func(b *testBackup) { b.files[testSpcFile][0] ^= 1 }, []string{testSpcFile + ": checksum mismatch"}},
		{"shortened", func(b *testBackup) { b.files["base/1/1259"] = b.files["base/1/1259"][:100] }, []string{"base/1/1259: size 100, manifest says 32768"}},
		{"missing", func(b *testBackup) { delete(b.files, "base/1/empty") }, []string{"missing: base/1/empty"}},
		{"extra", func(b *testBackup) { b.files["base/1/99999"] = []byte("x") }, []string{"extra: base/1/99999"}},
		{"missing WAL", func(b *testBackup) { delete(b.files, testSeg2) }, []string{
			"missing: " + testSeg2 + " (needed for the WAL of timeline 1 from 0/900028 to 0/BA73B0)",
			"bad WAL: " + testSeg2 + " at 0/A00000: the segment given next was 00000001000000000000000B, want this one; recovery would stop there"}},
		{"WAL zeroed from a page before the stop", func(b *testBackup) { clear(b.files[testSeg2][0x20000:]) }, []string{
			"bad WAL: " + testSeg2 + " at 0/A20000: the page is zeros where WAL should be"}},
		{"WAL segment swapped with another", func(b *testBackup) { b.files[testSeg2], b.files[testSeg3] = b.files[testSeg3], b.files[testSeg2] }, []string{
			"bad WAL: " + testSeg2 + " at 0/A00000: page address 0/B00000, want 0/A00000"}},
		// The record after the stop LSN is not the backup's: recovery need not read it, and on a
		// standby the last segment holds whatever the server had not yet overwritten there.
		{"WAL damaged after the stop LSN", func(b *testBackup) { b.files[testSeg3][0xA73B0+4] ^= 1 }, nil},
		// Past that page pgpull writes zeros: a byte changed there is caught, though recovery would
		// never read it.
		{"WAL changed past the stop LSN's page", func(b *testBackup) { b.files[testSeg3][0xA8000+100] ^= 1 }, []string{
			"bad WAL: " + testSeg3 + " at 0/BA8064: not zero past the WAL page that holds the backup's stop LSN 0/BA73B0, where pgpull writes zeros"}},
		{"stop segment's last byte changed", func(b *testBackup) { b.files[testSeg3][1<<20-1] ^= 0x80 }, []string{
			"bad WAL: " + testSeg3 + " at 0/BFFFFF: not zero past the WAL page"}},
		{"WAL record damaged", func(b *testBackup) { b.files[testSeg1][0x28+30] ^= 1 }, []string{
			"bad WAL: " + testSeg1 + " at 0/900028: record CRC-32C"}},
		{"short WAL", func(b *testBackup) { b.files[testSeg1] = b.files[testSeg1][:4096] }, []string{testSeg1 + ": size 4096, a WAL segment is 1048576"}},
		{"edited manifest", func(b *testBackup) {
			b.manifest = bytes.Replace(b.manifest, []byte(`"Size": 32768`), []byte(`"Size": 32769`), 1)
		}, []string{"backup_manifest: manifest checksum mismatch"}},
	}
	for _, f := range forms() {
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				b := newTestBackup(t, manifest.CRC32C)
				tt.spoil(b)
				rep, err := testChecker.VerifyPath(context.Background(), f.write(t, b))
				if err != nil {
					t.Fatal(err)
				}
				got := problemLines(rep)
				if len(got) != len(tt.want) {
					t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
				for i := range got {
					if !strings.HasPrefix(got[i], tt.want[i]) {
						t.Errorf("problem %d: %q, want it to start with %q", i, got[i], tt.want[i])
					}
				}
				if len(tt.want) == 0 && (rep.Files != 7 || rep.WALSegments != 3 || !rep.WALWhole) {
					t.Errorf("whole backup: %d files and %d WAL segments present, WAL whole: %v; want 7 (postgresql.auto.conf counted, not checked), 3, true",
						rep.Files, rep.WALSegments, rep.WALWhole)
				}
			})
		}
	}
}

// TestVerifyManifestV2SystemID: a version 2 manifest (17 and later) is checked against the
// backup's pg_control in every form, as pg_verifybackup 17 does.
func TestVerifyManifestV2SystemID(t *testing.T) {
	tests := []struct {
		name     string
		systemID uint64
		want     []string
	}{
		{"same cluster", testSystemID, nil},
		{"another cluster", testSystemID + 1, []string{"global/pg_control: system identifier 506381209866536711, manifest says 506381209866536712"}},
	}
	for _, f := range forms() {
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				b := newVersionedTestBackup(t, manifest.CRC32C, 2, tt.systemID)
				rep, err := testChecker.VerifyPath(context.Background(), f.write(t, b))
				if err != nil {
					t.Fatal(err)
				}
				wantProblems(t, rep, tt.want)
			})
		}
	}
}

func TestVerifyStreamDamage(t *testing.T) {
	b := newTestBackup(t, manifest.CRC32C)
	plain := tarBytes(t, b.files, b.manifest, compress.Spec{})
	gz := tarBytes(t, b.files, b.manifest, compress.Spec{Algorithm: compress.Gzip})
	zst := tarBytes(t, b.files, b.manifest, compress.Spec{Algorithm: compress.Zstd})
	tests := []struct {
		name   string
		stream []byte
		want   []string
	}{
		{"plain cut in a member", plain[:len(plain)/2], []string{"truncated stream: test ends inside pg_wal/"}},
		{"gzip cut", gz[:len(gz)/2], []string{"truncated stream: test ends "}},
		{"zstd cut", zst[:len(zst)/2], []string{"truncated stream: test ends "}},
		// The manifest was read, so the files are checked; only the ending is missing.
		{"no end-of-archive marker", plain[:len(plain)-2*tarBlockSize], []string{"truncated stream: test ends after backup_manifest without the end-of-archive marker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := testChecker.VerifyStream(context.Background(), bytes.NewReader(tt.stream), "test")
			if err != nil {
				t.Fatal(err)
			}
			t.Log(strings.Join(problemLines(rep), "\n"))
			wantProblems(t, rep, tt.want)
		})
	}
}

func TestVerifyNotABackup(t *testing.T) {
	b := newTestBackup(t, manifest.CRC32C)
	noManifest := &testBackup{files: b.files}
	tests := []struct {
		name string
		path func(t *testing.T) string
		want string
	}{
		{"text file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "notes.txt")
			mustWrite(t, p, bytes.Repeat([]byte("just some text\n"), 100))
			return p
		}, "is not a pgpull backup: not a tar stream"},
		{"empty file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "empty")
			mustWrite(t, p, nil)
			return p
		}, "is not a pgpull backup: not a tar stream"},
		{"stream without manifest", func(t *testing.T) string {
			return writeStreamFile(t, noManifest, compress.Spec{Algorithm: compress.Gzip})
		},
			"is not a pgpull backup: no backup_manifest found"},
		{"directory without manifest", func(t *testing.T) string { return writePlain(t, noManifest) },
			"is not a pgpull backup: no backup_manifest found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := testChecker.VerifyPath(context.Background(), tt.path(t))
			var nb *NotBackupError
			if !errors.As(err, &nb) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, %v; want an error containing %q", rep, err, tt.want)
			}
		})
	}
}

// TestVerifyUnfinished: a backup whose run stopped before the end is named so, with how to
// complete it: a plain directory by its marker (a refresh puts the marker down before it removes
// the old manifest), -F tar output by its archives without the manifest pgpull writes last.
func TestVerifyUnfinished(t *testing.T) {
	b := newTestBackup(t, manifest.CRC32C)
	noManifest := &testBackup{files: b.files}
	marked := func(b *testBackup) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := writePlain(t, b)
			mustWrite(t, filepath.Join(dir, IncompleteMarker), []byte("unfinished"))
			return dir
		}
	}
	tests := []struct {
		name string
		path func(t *testing.T) string
		want []string
	}{
		{"plain with the marker", marked(noManifest),
			[]string{"is an unfinished pgpull backup: pgpull_incomplete is there", "complete it with `pgpull backup --refresh DSN "}},
		{"plain with the marker and an old manifest", marked(b),
			[]string{"is an unfinished pgpull backup: pgpull_incomplete is there", "--refresh"}},
		{"tar files without manifest", func(t *testing.T) string { return writeTarFiles(t, noManifest, compress.Spec{}) },
			[]string{"is an unfinished pgpull backup: it has base.tar but no backup_manifest, which pgpull writes last",
				"take it again with `pgpull backup -f -F tar DSN "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.path(t)
			rep, err := testChecker.VerifyPath(context.Background(), dir)
			var unfinished *UnfinishedError
			if !errors.As(err, &unfinished) {
				t.Fatalf("got %v, %v; want an UnfinishedError", rep, err)
			}
			for _, w := range append(tt.want, dir) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// onlyReader hides Seek, as a pipe cannot seek.
type onlyReader struct{ io.Reader }

func TestVerifyStreamStrongChecksums(t *testing.T) {
	tests := []struct {
		name     string
		alg      manifest.Algorithm
		seekable bool
		want     []string
	}{
		{"SHA256 on a pipe", manifest.SHA256, false, nil},
		{"SHA512 in a file is read twice", manifest.SHA512, true, nil},
		{"SHA384 on a pipe", manifest.SHA384, false, []string{"unchecked: 6 files have SHA384 checksums"}},
		{"NONE on a pipe", manifest.NONE, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBackup(t, tt.alg)
			var r io.Reader = bytes.NewReader(tarBytes(t, b.files, b.manifest, compress.Spec{Algorithm: compress.Zstd}))
			if !tt.seekable {
				r = onlyReader{r}
			}
			rep, err := testChecker.VerifyStream(context.Background(), r, "test")
			if err != nil {
				t.Fatal(err)
			}
			wantProblems(t, rep, tt.want)
		})
	}
}

func TestVerifyWALSegmentSize(t *testing.T) {
	tests := []struct {
		name  string
		sizes map[string]int64
		want  uint64
	}{
		{"none present", map[string]int64{"base/1/1": 1 << 20}, 16 << 20},
		{"1 MB", map[string]int64{testSeg1: 1 << 20, testSeg2: 1 << 20}, 1 << 20},
		{"majority over a short one", map[string]int64{testSeg1: 64 << 20, testSeg2: 64 << 20, "pg_wal/000000010000000000000022": 8 << 20}, 64 << 20},
		{"odd sizes ignored", map[string]int64{testSeg1: 12345}, 16 << 20},
		{"history files ignored", map[string]int64{"pg_wal/00000002.history": 1 << 20}, 16 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]entry{}
			for p, n := range tt.sizes {
				files[p] = entry{size: n}
			}
			if got := walSegmentSize(files); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// wantProblems checks the report's problem lines, in order, against the prefixes in want.
func wantProblems(t *testing.T, rep *Report, want []string) {
	t.Helper()
	got := problemLines(rep)
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d: %q, want it to start with %q", i, got[i], want[i])
		}
	}
}
