package compress

import (
	"bytes"
	"io"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// TestNewReaderLz4: an lz4 frame stream, as pg_basebackup --compress=lz4 writes, reads back by
// its content, and a damaged one fails to.
func TestNewReaderLz4(t *testing.T) {
	in := mixedInput(300 << 10)
	var z bytes.Buffer
	w := lz4.NewWriter(&z)
	if err := w.Apply(lz4.ChecksumOption(true)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, alg, err := NewReader(bytes.NewReader(z.Bytes()))
	if err != nil || alg != Lz4 || alg.String() != "lz4" {
		t.Fatalf("NewReader = %v, %v; want lz4", alg, err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("read %d bytes, %v; want the %d written", len(got), err, len(in))
	}
	bad := bytes.Clone(z.Bytes())
	bad[len(bad)/2] ^= 0xFF
	r, _, err = NewReader(bytes.NewReader(bad))
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil {
		t.Error("a damaged lz4 stream read without an error")
	}
}
