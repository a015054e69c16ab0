package manifest

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/fixture"
)

// TestParseRealManifests parses the backup_manifest that pg_basebackup 15 received from fresh
// PostgreSQL 13, 14 and 15 servers (testdata/manifest, made by testdata/manifest.sh): each parses
// as version 1, lists exactly the files the backup held on disk (WAL segments aside) with their sizes,
// each with a CRC-32C, names one WAL range on timeline 1, and is refused with one byte flipped.
func TestParseRealManifests(t *testing.T) {
	crc32c, err := ParseAlgorithm("CRC32C")
	if err != nil {
		t.Fatal(err)
	}
	for _, major := range []string{"13", "14", "15"} {
		t.Run(major, func(t *testing.T) {
			b, err := os.ReadFile(fixture.Path("manifest", major, "backup_manifest"))
			if err != nil {
				t.Fatal(err)
			}
			onDisk := readFileSizes(t, fixture.Path("manifest", major, "files"))
			m, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if m.Version != 1 {
				t.Errorf("version %d, want 1", m.Version)
			}
			listed := map[string]int64{}
			for _, f := range m.Files {
				listed[f.Path] = f.Size
				if f.Algorithm != crc32c || len(f.Checksum) != 4 {
					t.Errorf("%s: checksum %v of %d bytes, want CRC32C of 4", f.Path, f.Algorithm, len(f.Checksum))
				}
			}
			for path, size := range listed {
				if got, ok := onDisk[path]; !ok || got != size {
					t.Errorf("%s: listed with %d bytes, on disk %d (present %v)", path, size, got, ok)
				}
			}
			// The server leaves the WAL segments out of the manifest (their status files are in).
			for path := range onDisk {
				if _, ok := listed[path]; !ok && !strings.HasPrefix(path, "pg_wal/") {
					t.Errorf("%s in the backup but not listed", path)
				}
			}
			if len(m.WALRanges) != 1 || m.WALRanges[0].Timeline != 1 || m.WALRanges[0].Start > m.WALRanges[0].End {
				t.Errorf("WAL ranges %+v, want one on timeline 1 with start <= end", m.WALRanges)
			}
			flipped := bytes.Clone(b)
			flipped[bytes.Index(b, []byte(`"Size": `))+len(`"Size": `)] ^= 0x01 // a digit becomes another
			if _, err := Parse(flipped); err == nil {
				t.Error("accepted with a size digit flipped")
			}
		})
	}
}

// readFileSizes reads the "path size" lines testdata/manifest.sh wrote from the backup's files.
func readFileSizes(t *testing.T, path string) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		i := strings.LastIndexByte(sc.Text(), ' ')
		size, err := strconv.ParseInt(sc.Text()[i+1:], 10, 64)
		if i < 0 || err != nil {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		sizes[sc.Text()[:i]] = size
	}
	if len(sizes) == 0 {
		t.Fatalf("%s lists no files", path)
	}
	return sizes
}
