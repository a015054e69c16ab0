package sinks

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/pipeline"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// tarMember is what a test expects of one member of an archive.
type tarMember struct {
	name string
	dir  bool
	body []byte
}

// readTar reads every member of archive and checks the framing: 512-byte headers, bodies padded
// to 512, two zero blocks at the end and nothing after.
func readTar(t *testing.T, archive []byte) ([]tarMember, []*tar.Header) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	var members []tarMember
	var headers []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the archive back: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		members = append(members, tarMember{name: h.Name, dir: h.Typeflag == tar.TypeDir, body: body})
		headers = append(headers, h)
	}
	if len(archive)%512 != 0 {
		t.Errorf("archive is %d bytes, not a multiple of 512", len(archive))
	}
	if len(archive) < 1024 || !bytes.Equal(archive[len(archive)-1024:], make([]byte, 1024)) {
		t.Errorf("archive does not end with two zero blocks")
	}
	return members, headers
}

func checkMembers(t *testing.T, got, want []tarMember) {
	t.Helper()
	if len(got) != len(want) {
		var names []string
		for _, m := range got {
			names = append(names, m.name)
		}
		t.Fatalf("got members %q, want %d members", names, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.name != w.name || g.dir != w.dir {
			t.Errorf("member %d is %q (dir %v), want %q (dir %v)", i, g.name, g.dir, w.name, w.dir)
		}
		if !bytes.Equal(g.body, w.body) {
			t.Errorf("member %q: %d bytes differ from the %d expected", g.name, len(g.body), len(w.body))
		}
	}
}

// testTar is a Tar with a fixed owner, so that its output is the same on every machine.
func testTar(w io.Writer) *Tar {
	s := NewTar(w)
	s.uid, s.gid = 0, 0
	s.now = func() time.Time { return testTime }
	return s
}

func TestTarStream(t *testing.T) {
	var s testStream
	label := []byte("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n")
	s.content("backup_label", label)
	s.dir("base", "")
	s.dir("base/1", "")
	sizes := map[string]int{"base/1/empty": 0, "base/1/one": 1, "base/1/511": 511, "base/1/512": 512,
		"base/1/513": 513, "base/1/1259": 3*8192 + 5}
	var want []tarMember
	want = append(want, tarMember{"backup_label", false, label}, tarMember{"base/", true, nil},
		tarMember{"base/1/", true, nil})
	for i, name := range []string{"base/1/empty", "base/1/one", "base/1/511", "base/1/512", "base/1/513", "base/1/1259"} {
		data := pattern(byte(i), sizes[name])
		s.file(name, "", data, 8192)
		want = append(want, tarMember{name: name, body: data})
	}
	s.missing("base/1/gone", 20000, 8192)
	shrunk := s.shrunk("base/1/shrunk", pattern(9, 5000), 20000, 8192)
	want = append(want, tarMember{name: "base/1/shrunk", body: shrunk})
	s.dir("pg_tblspc", "")
	s.dir("pg_tblspc/16384", "16384")
	s.dir("pg_tblspc/16384/PG_15_202209061", "16384")
	ts := pattern(3, 9000)
	s.file("pg_tblspc/16384/PG_15_202209061/5/16390", "16384", ts, 4096)
	want = append(want, tarMember{"pg_tblspc/", true, nil}, tarMember{"pg_tblspc/16384/", true, nil},
		tarMember{"pg_tblspc/16384/PG_15_202209061/", true, nil},
		tarMember{name: "pg_tblspc/16384/PG_15_202209061/5/16390", body: ts})
	control := pattern(7, 8192)
	s.file("global/pg_control", "", control, 8192)
	manifest := []byte(`{"PostgreSQL-Backup-Manifest-Version": 1}` + "\n")
	want = append(want, tarMember{name: "global/pg_control", body: control},
		tarMember{name: "backup_manifest", body: manifest})

	var out bytes.Buffer
	sink := testTar(&out)
	if err := putAll(t, sink, s.pieces); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(context.Background(), manifest); err != nil {
		t.Fatal(err)
	}
	got, headers := readTar(t, out.Bytes())
	checkMembers(t, got, want)

	for _, h := range headers {
		wantMode := int64(0o600)
		if h.Typeflag == tar.TypeDir {
			wantMode = 0o700
		}
		if h.Mode != wantMode {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, wantMode)
		}
		if !h.ModTime.Equal(testTime) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, testTime)
		}
		if h.Name == "base/1/shrunk" && h.Size != 20000 {
			t.Errorf("shrunk file's header size is %d, want the listed 20000", h.Size)
		}
	}
	// Every byte is accounted for: a header per member, bodies padded to 512, two end blocks.
	wantLen := 1024
	for _, m := range want {
		wantLen += 512 + (len(m.body)+511)/512*512
	}
	if out.Len() != wantLen {
		t.Errorf("archive is %d bytes, want %d", out.Len(), wantLen)
	}

	golden := filepath.Join("testdata", "stream.tar")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if wantBytes, err := os.ReadFile(golden); err != nil {
		t.Errorf("golden file: %v (run go test -update)", err)
	} else if !bytes.Equal(out.Bytes(), wantBytes) {
		t.Errorf("archive differs from %s (go test -update rewrites it)", golden)
	}
}

func TestTarLongNames(t *testing.T) {
	// 150 bytes fits USTAR's prefix and name fields; 300 bytes and a 120-byte last element do not.
	names := []string{
		"base/" + strings.Repeat("d", 100) + "/" + strings.Repeat("f", 44),
		"base/" + strings.Repeat("a/", 140) + "16390",
		"base/1/" + strings.Repeat("x", 120),
	}
	var s testStream
	s.dir("base", "")
	for i, name := range names {
		s.file(name, "", pattern(byte(i), 1000+i), 512)
	}
	var out bytes.Buffer
	sink := testTar(&out)
	if err := putAll(t, sink, s.pieces); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	got, headers := readTar(t, out.Bytes())
	want := []tarMember{{"base/", true, nil}}
	for i, name := range names {
		want = append(want, tarMember{name: name, body: pattern(byte(i), 1000+i)})
	}
	checkMembers(t, got, want)
	for _, h := range headers[2:] {
		if h.Format&tar.FormatPAX == 0 {
			t.Errorf("%d-byte name written as %v, want PAX", len(h.Name), h.Format)
		}
	}

	// GNU tar must read the same names and sizes back.
	path := filepath.Join(t.TempDir(), "long.tar")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	listing, err := exec.Command("tar", "-tvf", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tvf: %v\n%s", err, listing)
	}
	lines := strings.Split(strings.TrimSpace(string(listing)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("tar -tvf lists %d members, want %d:\n%s", len(lines), len(want), listing)
	}
	for i, name := range names {
		fields := strings.Fields(lines[i+1])
		if fields[len(fields)-1] != name || fields[2] != strconv.Itoa(1000+i) || fields[0] != "-rw-------" {
			t.Errorf("tar -tvf line %q, want mode -rw-------, size %d, name %s", lines[i+1], 1000+i, name)
		}
	}
}

func TestTarRefuses(t *testing.T) {
	tests := []struct {
		name  string
		build func(s *testStream)
		want  string
	}{
		{"parent element", func(s *testStream) { s.file("../x", "", []byte("x"), 8) }, "unsafe path"},
		{"absolute", func(s *testStream) { s.file("/etc/x", "", []byte("x"), 8) }, "unsafe path"},
		{"escape in the middle", func(s *testStream) { s.file("base/../../x", "", []byte("x"), 8) }, "unsafe path"},
		{"piece out of order", func(s *testStream) {
			s.file("base/1/1", "", pattern(0, 100), 40)
			s.pieces[1], s.pieces[2] = s.pieces[2], s.pieces[1]
		}, "out of order"},
		{"file cut short", func(s *testStream) {
			s.file("base/1/1", "", pattern(0, 100), 40)
			s.file("base/1/2", "", pattern(1, 10), 40)
			s.pieces = append(s.pieces[:2], s.pieces[3:]...)
		}, "before \"base/1/1\" is complete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testStream
			tt.build(&s)
			sink := testTar(io.Discard)
			err := putAll(t, sink, s.pieces)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestTarCloseInsideFile(t *testing.T) {
	var s testStream
	s.file("base/1/1", "", pattern(0, 100), 40)
	sink := testTar(io.Discard)
	if err := putAll(t, sink, s.pieces[:2]); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "stream ended inside") {
		t.Fatalf("err = %v, want a stream ended inside error", err)
	}
}

func TestTarAbortWritesNoEnd(t *testing.T) {
	var s testStream
	s.file("base/1/1", "", pattern(0, 1000), 1000)
	var out bytes.Buffer
	sink := testTar(&out)
	if err := putAll(t, sink, s.pieces); err != nil {
		t.Fatal(err)
	}
	if err := sink.Abort(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 512+1000 {
		t.Errorf("after Abort the stream is %d bytes, want the %d written before it", out.Len(), 512+1000)
	}
	if err := sink.Close(context.Background(), nil); err == nil {
		t.Error("Close after Abort succeeded")
	}
	if out.Len() != 512+1000 {
		t.Errorf("Close after Abort wrote to the stream")
	}
}

// BenchmarkTar writes one large file in 8 MB pieces to io.Discard.
func BenchmarkTar(b *testing.B) {
	const pieceSize = 8 << 20
	data := pattern(1, pieceSize)
	f := &pipeline.File{Path: "base/16384/16390", Size: int64(b.N) * pieceSize, ModTime: testTime, Segment: -1}
	sink := NewTar(io.Discard)
	b.SetBytes(pieceSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := &pipeline.Piece{File: f, Offset: int64(i) * pieceSize, Length: pieceSize, Seq: uint64(i), Data: data}
		if err := sink.Put(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
	if err := sink.Close(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
}

// TestTarRawName: a name that is not valid UTF-8 (PostgreSQL's own test plants one in a data
// directory) goes into the tar header as its bytes, as pg_basebackup writes it, and GNU tar
// extracts it under that name.
func TestTarRawName(t *testing.T) {
	const name = "FOO\xe0\xe0\xe0BAR"
	var s testStream
	s.file(name, "", pattern(1, 700), 512)
	var out bytes.Buffer
	sink := testTar(&out)
	if err := putAll(t, sink, s.pieces); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if field := out.Bytes()[:100]; !bytes.Equal(field[:len(name)+1], []byte(name+"\x00")) {
		t.Errorf("header name field %q, want the raw name %q", field[:len(name)+1], name)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "raw.tar")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("tar", "-xf", path, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar -xf: %v\n%s", err, msg)
	}
	if got := readFile(t, filepath.Join(dir, name)); !bytes.Equal(got, pattern(1, 700)) {
		t.Errorf("GNU tar extracted %d bytes under the raw name, want the 700 written", len(got))
	}
}

// TestTarStreamOwnsCompressor: the stream sink owns its buffer and compressor. Close finishes
// both, so that what reaches the writer decompresses to the whole archive; Abort closes the
// compressor, so that none of its goroutines outlive a failed backup.
func TestTarStreamOwnsCompressor(t *testing.T) {
	var s testStream
	body := pattern(4, 3<<20) // several of gzip's blocks, so that it compresses on goroutines
	s.file("base/1/1", "", body, 1<<20)
	gzip := func(w io.Writer) (io.WriteCloser, error) {
		return compress.NewWriter(w, compress.Spec{Algorithm: compress.Gzip, Level: 1}, 2)
	}
	t.Run("close", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		var out bytes.Buffer
		sink, err := NewTarStream(&out, TarStreamOptions{Buffer: 64 << 10, Wrap: gzip})
		if err != nil {
			t.Fatal(err)
		}
		if err := putAll(t, sink, s.pieces); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(context.Background(), []byte("manifest\n")); err != nil {
			t.Fatal(err)
		}
		zr, _, err := compress.NewReader(&out)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		tr := tar.NewReader(zr)
		for _, want := range []struct {
			name string
			body []byte
		}{{"base/1/1", body}, {"backup_manifest", []byte("manifest\n")}} {
			h, err := tr.Next()
			if err != nil {
				t.Fatalf("reading the stream back before %s: %v", want.name, err)
			}
			got, err := io.ReadAll(tr)
			if h.Name != want.name || err != nil || !bytes.Equal(got, want.body) {
				t.Fatalf("member %s (%d bytes, %v), want %s (%d bytes)", h.Name, len(got), err, want.name, len(want.body))
			}
		}
		if _, err := tr.Next(); err != io.EOF {
			t.Errorf("after the manifest: %v, want the end of the archive", err)
		}
	})
	t.Run("abort", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		sink, err := NewTarStream(io.Discard, TarStreamOptions{Buffer: 64 << 10, Wrap: gzip})
		if err != nil {
			t.Fatal(err)
		}
		if err := putAll(t, sink, s.pieces[:2]); err != nil {
			t.Fatal(err)
		}
		if err := sink.Abort(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestTarAppend checks -R's way into an archive: bytes added to a member the stream carries (its
// header's size grows to match), and a member of its own, before backup_manifest, for a name the
// stream lacks.
func TestTarAppend(t *testing.T) {
	tests := []struct {
		name    string
		content bool // the member arrives whole as File.Content instead of as ranges
	}{{"ranges", false}, {"content", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testStream
			conf := []byte("work_mem = '8MB'\n")
			if tt.content {
				s.content("postgresql.auto.conf", conf)
			} else {
				s.file("postgresql.auto.conf", "", conf, 4)
			}
			control := pattern(7, 8192)
			s.file("global/pg_control", "", control, 8192)
			manifest := []byte("{}\n")
			added := []byte("primary_conninfo = 'host=a'\n")

			var out bytes.Buffer
			sink := testTar(&out)
			sink.Append(map[string][]byte{"postgresql.auto.conf": added, "standby.signal": {}})
			if err := putAll(t, sink, s.pieces); err != nil {
				t.Fatal(err)
			}
			if err := sink.Close(context.Background(), manifest); err != nil {
				t.Fatal(err)
			}
			got, _ := readTar(t, out.Bytes())
			checkMembers(t, got, []tarMember{
				{name: "postgresql.auto.conf", body: append(append([]byte{}, conf...), added...)},
				{name: "global/pg_control", body: control},
				{name: "standby.signal", body: []byte{}},
				{name: "backup_manifest", body: manifest},
			})
		})
	}
}
