package manifest

import (
	"encoding/hex"
	"testing"
)

func TestAlgorithmDigests(t *testing.T) {
	tests := []struct {
		alg  Algorithm
		in   string
		want string
	}{
		// PostgreSQL writes the CRC's native little-endian bytes: 0xE3069283 becomes "839206e3".
		{CRC32C, "123456789", "839206e3"},
		{CRC32C, "", "00000000"},
		{SHA224, "abc", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
		{SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{SHA384, "abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
		{SHA512, "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
	}
	for _, tt := range tests {
		t.Run(tt.alg.String()+"/"+tt.in, func(t *testing.T) {
			h := tt.alg.New()
			h.Write([]byte(tt.in))
			if got := hex.EncodeToString(h.Sum(nil)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if h.Size() != tt.alg.Size() {
				t.Errorf("Size %d, want %d", h.Size(), tt.alg.Size())
			}
			h.Reset()
			h.Write([]byte(tt.in[:len(tt.in)/2]))
			h.Write([]byte(tt.in[len(tt.in)/2:]))
			if got := hex.EncodeToString(h.Sum(nil)); got != tt.want {
				t.Errorf("after Reset and split writes: got %s, want %s", got, tt.want)
			}
		})
	}
	if NONE.New() != nil {
		t.Error("NONE.New() is not nil")
	}
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in      string
		want    Algorithm
		wantErr bool
	}{
		{"CRC32C", CRC32C, false},
		{"crc32c", CRC32C, false},
		{"sha224", SHA224, false},
		{"Sha256", SHA256, false},
		{"SHA384", SHA384, false},
		{"sha512", SHA512, false},
		{"none", NONE, false},
		{"", 0, true},
		{"md5", 0, true},
		{"SHA-256", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseAlgorithm(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("ParseAlgorithm(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
