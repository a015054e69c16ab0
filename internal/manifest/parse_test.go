package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

// sealed appends a correct Manifest-Checksum line to body, which must end in a newline, so that
// a test of a structural rule is not caught by the checksum first.
func sealed(body string) []byte {
	sum := sha256.Sum256([]byte(body))
	return []byte(body + `"Manifest-Checksum": "` + hex.EncodeToString(sum[:]) + "\"}\n")
}

const (
	v1Head   = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n"
	okFile   = `{ "Path": "a", "Size": 1, "Last-Modified": "2024-01-01 00:00:00 GMT", "Checksum-Algorithm": "CRC32C", "Checksum": "01020304" }`
	okFiles  = "\"Files\": [\n" + okFile + "\n],\n"
	okRanges = "\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n],\n"
	okV1Body = v1Head + okFiles + okRanges
	okV2Head = "{ \"PostgreSQL-Backup-Manifest-Version\": 2,\n\"System-Identifier\": 42,\n"
)

func filesBody(entries ...string) string {
	return v1Head + "\"Files\": [\n" + strings.Join(entries, ",\n") + "\n],\n" + okRanges
}

func TestParseManifestAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want *Parsed
	}{
		{"minimal v1", sealed(okV1Body), &Parsed{
			Version:   1,
			Files:     []FileEntry{{Path: "a", Size: 1, LastModified: "2024-01-01 00:00:00 GMT", Algorithm: CRC32C, Checksum: []byte{1, 2, 3, 4}}},
			WALRanges: []WALRange{{Timeline: 1, Start: 0x2000028, End: 0x2000100}},
		}},
		{"v2 with system identifier", sealed(okV2Head + okFiles + okRanges), &Parsed{
			Version:   2,
			SystemID:  42,
			Files:     []FileEntry{{Path: "a", Size: 1, LastModified: "2024-01-01 00:00:00 GMT", Algorithm: CRC32C, Checksum: []byte{1, 2, 3, 4}}},
			WALRanges: []WALRange{{Timeline: 1, Start: 0x2000028, End: 0x2000100}},
		}},
		{"encoded path, no checksum, lower-case algorithm", sealed(filesBody(
			`{ "Encoded-Path": "e0e0", "Size": 0 }`,
			`{ "Path": "b", "Size": 2, "Checksum-Algorithm": "sha224", "Checksum": "`+strings.Repeat("ab", 28)+`" }`,
			`{ "Path": "c", "Size": 3, "Checksum-Algorithm": "NONE" }`)), &Parsed{
			Version: 1,
			Files: []FileEntry{
				{Path: "\xe0\xe0", Algorithm: NONE},
				{Path: "b", Size: 2, Algorithm: SHA224, Checksum: bytes.Repeat([]byte{0xab}, 28)},
				{Path: "c", Size: 3, Algorithm: NONE},
			},
			WALRanges: []WALRange{{Timeline: 1, Start: 0x2000028, End: 0x2000100}},
		}},
		{"empty lists", sealed(v1Head + "\"Files\": [\n],\n\"WAL-Ranges\": [\n],\n"), &Parsed{Version: 1}},
		{"golden", goldenManifest(CRC32C).Bytes(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseManifestRejects(t *testing.T) {
	good := sealed(okV1Body)
	badChecksum := bytes.Clone(good)
	if i := len(badChecksum) - 5; badChecksum[i] == '0' { // a hex digit of the checksum
		badChecksum[i] = '1'
	} else {
		badChecksum[i] = '0'
	}
	tests := []struct {
		name string
		in   []byte
		want string // part of the error
	}{
		{"empty", nil, "newline"},
		{"no final newline", good[:len(good)-1], "newline"},
		{"one line", []byte("{}\n"), "2 lines"},
		{"body changed", bytes.Replace(good, []byte(`"Size": 1`), []byte(`"Size": 2`), 1), "checksum mismatch"},
		{"checksum changed", badChecksum, "checksum mismatch"},
		{"checksum not hex", []byte(okV1Body + "\"Manifest-Checksum\": \"zz\"}\n"), "hex"},
		{"version not first", sealed("{ \"Files\": [\n],\n" + okRanges), "first"},
		{"version 3", sealed(strings.Replace(okV1Body, ": 1,", ": 3,", 1)), "version 3"},
		{"version as string", sealed(strings.Replace(okV1Body, ": 1,", ": \"1\",", 1)), "number"},
		{"v2 without system identifier", sealed(strings.Replace(okV1Body, ": 1,", ": 2,", 1)), "System-Identifier"},
		{"v1 with system identifier", sealed(v1Head + "\"System-Identifier\": 42,\n" + okFiles + okRanges), "unrecognized top-level"},
		{"unknown top-level key", sealed(okV1Body + "\"Extra\": 1,\n"), "unrecognized top-level"},
		{"checksum not last", []byte(strings.Replace(string(good), "\"}\n", "\", \"Files\": []}\n", 1)), "last"},
		{"data after object", append(bytes.Clone(good[:len(good)-1]), " {}\n"...), "after"},
		{"missing files", sealed(v1Head + okRanges), "lacks"},
		{"missing WAL ranges", sealed(v1Head + okFiles), "lacks"},
		{"files twice", sealed(v1Head + okFiles + okFiles + okRanges), "duplicate key"},
		{"unknown file key", sealed(filesBody(`{ "Path": "a", "Size": 1, "Mode": 420 }`)), "unrecognized key"},
		{"no path", sealed(filesBody(`{ "Size": 1 }`)), "no path"},
		{"both paths", sealed(filesBody(`{ "Path": "a", "Encoded-Path": "61", "Size": 1 }`)), "both"},
		{"no size", sealed(filesBody(`{ "Path": "a" }`)), "no size"},
		{"negative size", sealed(filesBody(`{ "Path": "a", "Size": -1 }`)), "unsigned"},
		{"fractional size", sealed(filesBody(`{ "Path": "a", "Size": 1.5 }`)), "unsigned"},
		{"duplicate path", sealed(filesBody(okFile, okFile)), "duplicate path"},
		{"duplicate path via encoding", sealed(filesBody(`{ "Path": "a", "Size": 1 }`, `{ "Encoded-Path": "61", "Size": 1 }`)), "duplicate path"},
		{"duplicate key in file", sealed(filesBody(`{ "Path": "a", "Path": "b", "Size": 1 }`)), "duplicate key"},
		{"checksum without algorithm", sealed(filesBody(`{ "Path": "a", "Size": 1, "Checksum": "01020304" }`)), "without an algorithm"},
		{"algorithm without checksum", sealed(filesBody(`{ "Path": "a", "Size": 1, "Checksum-Algorithm": "CRC32C" }`)), "no checksum"},
		{"unknown algorithm", sealed(filesBody(`{ "Path": "a", "Size": 1, "Checksum-Algorithm": "MD5", "Checksum": "00" }`)), "unrecognized checksum algorithm"},
		{"checksum wrong length", sealed(filesBody(`{ "Path": "a", "Size": 1, "Checksum-Algorithm": "CRC32C", "Checksum": "0102" }`)), "want 4"},
		{"odd encoded path", sealed(filesBody(`{ "Encoded-Path": "616", "Size": 1 }`)), "hex"},
		{"NUL in path", sealed(filesBody(`{ "Path": "a\u0000b", "Size": 1 }`)), "invalid path"},
		{"empty path", sealed(filesBody(`{ "Path": "", "Size": 1 }`)), "invalid path"},
		{"WAL range without end", sealed(v1Head + okFiles + "\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/1\" }\n],\n"), "needs"},
		{"bad LSN", sealed(v1Head + okFiles + "\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0-1\", \"End-LSN\": \"0/2\" }\n],\n"), "invalid LSN"},
		{"unknown WAL key", sealed(v1Head + okFiles + "\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/1\", \"End-LSN\": \"0/2\", \"X\": 1 }\n],\n"), "unrecognized key"},
		{"not UTF-8", sealed(filesBody("{ \"Path\": \"\xe0\", \"Size\": 1 }")), "UTF-8"},
		{"not JSON", sealed("{ \"PostgreSQL-Backup-Manifest-Version\": 1,,\n"), "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.in)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// resealed replaces b's last line with a correct Manifest-Checksum line, so that fuzzed bodies
// get past the checksum, which the fuzzer could never forge, to the structural rules.
func resealed(b []byte) []byte {
	end := bytes.LastIndexByte(bytes.TrimSuffix(b, []byte("\n")), '\n')
	if end < 0 {
		return b
	}
	return sealed(string(b[:end+1]))
}

// FuzzParseManifest checks Parse never panics, and that whatever it accepts survives
// Bytes and a second parse unchanged, and serialises the same way again. Each input is tried as
// it is and with its checksum line rewritten to match.
func FuzzParseManifest(f *testing.F) {
	f.Add(sealed(okV1Body))
	f.Add(sealed(okV2Head + okFiles + okRanges))
	f.Add(goldenManifest(CRC32C).Bytes())
	f.Add(goldenManifest(SHA512).Bytes())
	f.Add(goldenManifest(NONE).Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		checkManifestRoundTrip(t, b)
		checkManifestRoundTrip(t, resealed(b))
	})
}

func checkManifestRoundTrip(t *testing.T, b []byte) {
	m, err := Parse(b)
	if err != nil {
		return
	}
	out := m.Bytes()
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("re-serialised manifest does not parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(m, again) {
		t.Fatalf("round trip changed the manifest:\n%+v\n%+v", m, again)
	}
	if out2 := again.Bytes(); !bytes.Equal(out, out2) {
		t.Fatalf("serialisation not stable:\n%s\n%s", out, out2)
	}
}
