package fetch

import (
	"bytes"
	"strings"
	"testing"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// lz4Value is what the helper's lz4.block.compress(data, store_size=False) sends: the block
// without its size.
func lz4Value(t testing.TB, data []byte) []byte {
	dst := make([]byte, 1+lz4.CompressBlockBound(len(data)))
	dst[0] = 'L'
	var c lz4.Compressor
	k, err := c.CompressBlock(data, dst[1:])
	if err != nil {
		t.Fatal(err)
	}
	if k == 0 && len(data) > 0 { // incompressible: a block of literals only
		t.Fatalf("lz4 refused %d bytes", len(data))
	}
	if len(data) == 0 {
		return []byte("L\x00") // as Python's lz4.block.compress(b'') gives
	}
	return dst[:1+k]
}

func zlibValue(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	b.WriteByte('Z')
	w, _ := zlib.NewWriterLevel(&b, 1)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdValue(t testing.TB, data []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(data, []byte{'S'})
}

// TestCompressedAppend holds the worker to what the helper promises: each codec's value becomes
// the file's bytes after what dst held, a short read (end of file) is accepted, and a value that
// would take more memory than the read asked for is refused.
func TestCompressedAppend(t *testing.T) {
	page := bytes.Repeat([]byte("pgpull page "), 8192/12)
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(i * 2654435761 >> 13)
	}
	for _, tc := range []struct {
		name    string
		v       []byte
		n       int64
		want    []byte
		wantErr string
	}{
		{name: "zlib", v: zlibValue(t, page), n: int64(len(page)), want: page},
		{name: "zstd", v: zstdValue(t, page), n: int64(len(page)), want: page},
		{name: "zstd incompressible", v: zstdValue(t, random), n: int64(len(random)), want: random},
		{name: "lz4", v: lz4Value(t, page), n: int64(len(page)), want: page},
		{name: "lz4 incompressible", v: lz4Value(t, random), n: int64(len(random)), want: random},
		{name: "lz4 short read at end of file", v: lz4Value(t, page[:100]), n: 8192, want: page[:100]},
		{name: "lz4 empty read past end of file", v: lz4Value(t, nil), n: 8192, want: []byte{}},
		{name: "lz4 empty file", v: lz4Value(t, nil), n: 0, want: []byte{}},
		{name: "lz4 more than asked", v: lz4Value(t, page), n: 100, wantErr: "server-compressed data (lz4"},
		{name: "corrupt lz4", v: []byte("L\xf0garbage"), n: 100, wantErr: "server-compressed data (lz4"},
		{name: "raw", v: append([]byte{'R'}, random...), n: int64(len(random)), want: random},
		{name: "raw more than asked", v: append([]byte{'R'}, random...), n: 100, wantErr: "for a 100-byte read"},
		{name: "raw a little more than asked", v: append([]byte{'R'}, random[:101]...), n: 100, wantErr: "more than the 100 bytes"},
		{name: "short read at end of file", v: zlibValue(t, page[:100]), n: 8192, want: page[:100]},
		{name: "empty read past end of file", v: zlibValue(t, nil), n: 8192, want: []byte{}},
		{name: "missing file", v: nil, n: 8192, want: []byte{}},
		{name: "more than asked", v: zlibValue(t, page), n: 100, wantErr: "more than the 100 bytes"},
		{name: "zstd more than asked", v: zstdValue(t, page), n: 100, wantErr: "more than the 100 bytes"},
		{name: "value larger than any compression of n", v: append([]byte{'Z'}, random...), n: 100, wantErr: "for a 100-byte read"},
		{name: "unknown codec", v: []byte("Xabc"), n: 100, wantErr: `codec 'X'`},
		{name: "empty value", v: []byte{}, n: 100, wantErr: "empty value"},
		{name: "corrupt zlib", v: []byte("Z\x78\x01garbage"), n: 100, wantErr: "server-compressed data"},
		{name: "corrupt zstd", v: []byte("S\x28\xb5\x2f\xfdgarbage"), n: 100, wantErr: "server-compressed data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Compressed
			// Twice on one Compressed: the decoders are reused across rows.
			for range 2 {
				got, err := c.Append([]byte("held"), tc.v, tc.n)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, append([]byte("held"), tc.want...)) {
					t.Fatalf("got %d bytes, want the 4 held and %d", len(got), len(tc.want))
				}
			}
		})
	}
}

// FuzzCompressedAppend feeds the decoder what a confused or hostile server could send: it must
// neither panic nor return more than the read asked for.
func FuzzCompressedAppend(f *testing.F) {
	f.Add(zlibValue(f, []byte("hello hello hello")), int64(17))
	f.Add(zstdValue(f, []byte("hello hello hello")), int64(5))
	f.Add(lz4Value(f, []byte("hello hello hello")), int64(17))
	f.Add([]byte("Z"), int64(0))
	f.Fuzz(func(t *testing.T, v []byte, n int64) {
		n = n & (1<<20 - 1)
		var c Compressed
		got, err := c.Append(nil, v, n)
		if err == nil && int64(len(got)) > n {
			t.Fatalf("%d bytes for a %d-byte read", len(got), n)
		}
	})
}
