package manifest

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenFiles are the files of the golden manifest: an ordinary one, a non-UTF-8 name (written
// as Encoded-Path), a name needing JSON escapes, and an empty file.
var goldenFiles = []struct {
	path string
	body string
}{
	{"backup_label", "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nLABEL: golden\n"},
	{"base/1/FOO\xe0\xe0\xe0BAR", "not UTF-8"},
	{"base/1/we\"ird\\name <&>\t", "quote, backslash, tab"},
	{"global/empty", ""},
}

func goldenManifest(alg Algorithm) *Manifest {
	m := New(1, 0, alg)
	mtime := time.Date(2024, 2, 29, 23, 59, 58, 0, time.FixedZone("CET", 3600))
	for _, f := range goldenFiles {
		var sum []byte
		if h := alg.New(); h != nil {
			h.Write([]byte(f.body))
			sum = h.Sum(nil)
		}
		m.AddFile(f.path, int64(len(f.body)), mtime, sum)
	}
	m.AddWALRange(1, 0x2000028, 0x1_0200_0100)
	return m
}

func TestManifestGolden(t *testing.T) {
	got := goldenManifest(CRC32C).Bytes()
	const golden = "testdata/manifest.golden"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("manifest differs from %s:\n%s", golden, got)
	}
}

func TestManifestVersion2(t *testing.T) {
	m := New(2, 7340000000000000001, NONE)
	m.AddFile("PG_VERSION", 3, time.Unix(0, 0), []byte{1})
	m.AddWALRange(3, 0, 0xABCDEF)
	want := "{ \"PostgreSQL-Backup-Manifest-Version\": 2,\n" +
		"\"System-Identifier\": 7340000000000000001,\n" +
		"\"Files\": [\n" +
		"{ \"Path\": \"PG_VERSION\", \"Size\": 3, \"Last-Modified\": \"1970-01-01 00:00:00 GMT\" }\n" +
		"],\n" +
		"\"WAL-Ranges\": [\n" +
		"{ \"Timeline\": 3, \"Start-LSN\": \"0/0\", \"End-LSN\": \"0/ABCDEF\" }\n" +
		"],\n"
	got := string(m.Bytes())
	if !strings.HasPrefix(got, want) {
		t.Fatalf("got\n%s\nwant prefix\n%s", got, want)
	}
	if _, err := Parse([]byte(got)); err != nil {
		t.Error(err)
	}
}

// TestManifestAcceptedByPgVerifybackup lays out the golden files as a plain backup and has
// PostgreSQL's own verifier check them against our manifest, then corrupts a file.
func TestManifestAcceptedByPgVerifybackup(t *testing.T) {
	bin, err := testcluster.Bindir()
	if err != nil {
		t.Fatal(err)
	}
	verifier := filepath.Join(bin, "pg_verifybackup")
	for _, alg := range []Algorithm{CRC32C, SHA224, SHA256, SHA384, SHA512, NONE} {
		t.Run(alg.String(), func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range goldenFiles {
				path := filepath.Join(dir, filepath.FromSlash(f.path))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(f.body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "backup_manifest"), goldenManifest(alg).Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			// pg_verifybackup itself has no objection to root, so it runs as us.
			if out, err := exec.Command(verifier, "-n", dir).CombinedOutput(); err != nil {
				t.Fatalf("pg_verifybackup rejected our manifest: %v\n%s", err, out)
			}
			if alg == NONE {
				return
			}
			label := filepath.Join(dir, "backup_label")
			body, _ := os.ReadFile(label)
			body[3] ^= 1
			os.WriteFile(label, body, 0o644)
			out, err := exec.Command(verifier, "-n", dir).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "checksum mismatch") {
				t.Fatalf("pg_verifybackup did not catch a flipped byte: %v\n%s", err, out)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain/path", `"plain/path"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x01\x1f", `"\u0001\u001f"`},
		{"<&>\u2028é", "\"<&>\u2028é\""},
		{"\x7f", "\"\x7f\""},
	}
	for _, tt := range tests {
		if got := string(appendJSONString(nil, tt.in)); got != tt.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
