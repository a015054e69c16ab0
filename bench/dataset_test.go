package main

import (
	"bytes"
	"compress/gzip"
	"math/rand/v2"
	"testing"
)

func TestParseDataset(t *testing.T) {
	for in, want := range map[string]datasetSpec{
		"pgbench:20":            {kind: datasetPgbench, scale: 20},
		"mixed:2GB":             {kind: datasetMixed, size: 2 << 30},
		"mixed:512MB":           {kind: datasetMixed, size: 512 << 20},
		"incompressible:1.5GiB": {kind: datasetIncompressible, size: 3 << 29},
		"empty":                 {kind: datasetEmpty},
	} {
		got, err := parseDataset(in)
		if err != nil || got != want {
			t.Errorf("parseDataset(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "pgbench", "pgbench:0", "pgbench:x", "mixed:", "mixed:12", "tpch:1", "mixed:lots", "empty:1"} {
		if _, err := parseDataset(bad); err == nil {
			t.Errorf("parseDataset(%q) accepted", bad)
		}
	}
	if s := (datasetSpec{kind: datasetMixed, size: 2 << 30}).String(); s != "mixed:2GB" {
		t.Errorf("String() = %s", s)
	}
	if s := (datasetSpec{kind: datasetEmpty}).String(); s != "empty" {
		t.Errorf("String() = %s", s)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "8MB": 8 << 20, "8m": 8 << 20, "512k": 512 << 10, "2G": 2 << 30, "1TiB": 1 << 40} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// The mixed data set's halves must compress as advertised: random bytes
// not at all, the text a lot, or the compression columns mean nothing.
func TestPayloadCompressibility(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ratio := func(gen func(*rand.Rand, []byte) any) float64 {
		var raw, z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, 1)
		buf := make([]byte, payloadBytes)
		for range 200 {
			var b []byte
			switch v := gen(r, buf).(type) {
			case []byte:
				b = v
			case string:
				b = []byte(v)
			}
			if len(b) != payloadBytes {
				t.Fatalf("payload of %d bytes, want %d", len(b), payloadBytes)
			}
			raw.Write(b)
			w.Write(b)
		}
		w.Close()
		return float64(z.Len()) / float64(raw.Len())
	}
	if got := ratio(randomPayload); got < 0.98 {
		t.Errorf("random payload compresses to %.2f", got)
	}
	if got := ratio(textPayload); got > 0.5 {
		t.Errorf("text payload compresses only to %.2f", got)
	}
}
