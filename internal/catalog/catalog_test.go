package catalog

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

const segSize = 16 << 20

// testLabel is a backup_label starting at start, incremental from `from` when not 0.
func testLabel(start, from pgformat.LSN) []byte {
	s := "START WAL LOCATION: " + start.String() + " (file 000000010000000000000002)\nCHECKPOINT LOCATION: " + start.String() +
		"\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-05-01 12:00:00 UTC\nLABEL: test\nSTART TIMELINE: 1\n"
	if from != 0 {
		s += "INCREMENTAL FROM LSN: " + from.String() + "\nINCREMENTAL FROM TLI: 1\n"
	}
	return []byte(s)
}

// testFiles are a backup's files: a label, and a relation file whole or INCREMENTAL.
func testFiles(start, from pgformat.LSN) map[string][]byte {
	rel := "base/5/16384"
	if from != 0 {
		rel = "base/5/INCREMENTAL.16384"
	}
	return map[string][]byte{"backup_label": testLabel(start, from), rel: bytes.Repeat([]byte{1}, 8192)}
}

func testManifestOf(files map[string][]byte, start, stop pgformat.LSN, at time.Time) []byte {
	m := manifest.New(1, 0, manifest.NONE)
	for p, b := range files {
		m.AddFile(p, int64(len(b)), at, nil)
	}
	m.AddWALRange(1, uint64(start), uint64(stop))
	return m.Bytes()
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for p, b := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func tarStream(t *testing.T, files map[string][]byte, order []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range order {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o600, Size: int64(len(files[p]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[p]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestListDir: a full plain backup, an incremental plain one on it, an incremental stream on
// that, and a WAL archive with a gap and a partial segment, listed in start order, each
// incremental naming the backup it was taken on.
func TestListDir(t *testing.T) {
	root := t.TempDir()
	at := time.Date(2026, 5, 1, 12, 0, 30, 0, time.UTC)
	starts := []pgformat.LSN{0x2000028, 0x4000028, 0x6000028}
	for i, name := range []string{"full", "inc1"} {
		var from pgformat.LSN
		if i > 0 {
			from = starts[i-1]
		}
		files := testFiles(starts[i], from)
		files["backup_manifest"] = testManifestOf(files, starts[i], starts[i]+0x100, at)
		writeFiles(t, filepath.Join(root, name), files)
	}
	files := testFiles(starts[2], starts[1])
	files["backup_manifest"] = testManifestOf(files, starts[2], starts[2]+0x100, at)
	stream := tarStream(t, files, []string{"base/5/INCREMENTAL.16384", "backup_label", "backup_manifest"})
	writeFiles(t, root, map[string][]byte{"inc2.tar": stream, "notes.txt": []byte("not a backup")})
	wal := filepath.Join(root, "wal")
	for _, n := range []string{"000000010000000000000002", "000000010000000000000003", "000000010000000000000005", "000000010000000000000006.partial"} {
		writeFiles(t, wal, map[string][]byte{n: nil})
		if err := os.Truncate(filepath.Join(wal, n), segSize); err != nil {
			t.Fatal(err)
		}
	}

	l, err := ListDir(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range l.Backups {
		got = append(got, filepath.Base(b.Location)+" "+b.Form+" "+b.StartLSN.String()+" on "+filepath.Base(b.DependsOn)+" "+b.Note)
	}
	want := []string{"full plain 0/2000028 on . ", "inc1 plain 0/4000028 on full ", "inc2.tar stream 0/6000028 on inc1 "}
	if !slices.Equal(got, want) {
		t.Errorf("backups:\n%q\nwant\n%q", got, want)
	}
	if b := l.Backups[0]; b.Incremental || !b.StopTime.Equal(at) || b.StartTime != "2026-05-01 12:00:00 UTC" || b.Bytes != int64(len(testLabel(starts[0], 0))+8192) {
		t.Errorf("the full backup: %+v", b)
	}
	if len(l.Archives) != 1 || len(l.Archives[0].Spans) != 1 {
		t.Fatalf("archives: %+v", l.Archives)
	}
	s := l.Archives[0].Spans[0]
	if s.First != "000000010000000000000002" || s.Last != "000000010000000000000005" || s.Segments != 3 ||
		!slices.Equal(s.Missing, []string{"000000010000000000000004"}) || s.Partial != "000000010000000000000006.partial" || s.End != 0x6000000 {
		t.Errorf("the archive's span: %+v", s)
	}
}

// TestListCompressedStream: a zstd stream's manifest, its last member, is read only when asked.
func TestListCompressedStream(t *testing.T) {
	files := testFiles(0x2000028, 0)
	files["backup_manifest"] = testManifestOf(files, 0x2000028, 0x2000128, time.Now())
	var z bytes.Buffer
	zw, err := compress.NewWriter(&z, compress.Spec{Algorithm: compress.Zstd}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(tarStream(t, files, []string{"base/5/16384", "backup_label", "backup_manifest"})); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "base.tar.zst")
	if err := os.WriteFile(p, z.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		read     bool
		start    pgformat.LSN
		wantNote bool
	}{{false, 0, true}, {true, 0x2000028, false}}
	for _, tt := range tests {
		b := describeStreamFile(p, Options{ReadStreams: tt.read})
		if b.Form != "stream (zstd)" || b.StartLSN != tt.start || (b.Note != "") != tt.wantNote {
			t.Errorf("--read-streams %v: %+v", tt.read, b)
		}
	}
}
