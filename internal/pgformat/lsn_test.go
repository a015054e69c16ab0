package pgformat

import "testing"

func TestParseLSN(t *testing.T) {
	tests := []struct {
		in   string
		want LSN
		ok   bool
	}{
		{"0/2000028", 0x2000028, true},
		{"16/B374D848", 0x16_B374D848, true},
		{"FFFFFFFF/FFFFFFFF", 0xFFFFFFFF_FFFFFFFF, true},
		{"0/0", 0, true},
		{"1/", 0, false},
		{"/1", 0, false},
		{"100000000/0", 0, false},
		{"0x1/2", 0, false},
		{"12", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseLSN(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseLSN(%q) = %s, %v; want %s, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestLSNString prints LSNs as PostgreSQL does and reads them back.
func TestLSNString(t *testing.T) {
	tests := []struct {
		lsn  uint64
		want string
	}{
		{0, "0/0"},
		{0x2000028, "0/2000028"},
		{0x1_0000_0000, "1/0"},
		{0xABCD_EF01_2345_6789, "ABCDEF01/23456789"},
	}
	for _, tt := range tests {
		if got := LSN(tt.lsn).String(); got != tt.want {
			t.Errorf("LSN(%#x).String() = %s, want %s", tt.lsn, got, tt.want)
		}
		if back, err := ParseLSN(tt.want); err != nil || uint64(back) != tt.lsn {
			t.Errorf("ParseLSN(%s) = %#x, %v", tt.want, back, err)
		}
	}
}

func FuzzParseLSN(f *testing.F) {
	f.Add("0/2000028")
	f.Add("16/B374D848")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLSN(s)
		if err != nil {
			return
		}
		again, err := ParseLSN(l.String())
		if err != nil || again != l {
			t.Fatalf("%q -> %s -> %s, %v", s, l, again, err)
		}
	})
}
