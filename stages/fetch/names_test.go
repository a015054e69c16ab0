package fetch

import (
	"slices"
	"testing"
)

func TestSplitAtInvalid(t *testing.T) {
	tests := []struct {
		path, dir string
		rest      []string
		array     string
	}{
		{"FOO\xe0BAR", ".", []string{"FOO\xe0BAR"}, `{"\\x464f4fe0424152"}`},
		{"base/1/x\xff", "base/1", []string{"x\xff"}, `{"\\x78ff"}`},
		{"a/\xe0/b", "a", []string{"\xe0", "b"}, `{"\\xe0","\\x62"}`},
	}
	for _, tt := range tests {
		dir, rest := splitAtInvalid(tt.path)
		if dir != tt.dir || !slices.Equal(rest, tt.rest) {
			t.Errorf("splitAtInvalid(%q) = %q, %q; want %q, %q", tt.path, dir, rest, tt.dir, tt.rest)
		}
		if got := string(byteaArray(rest)); got != tt.array {
			t.Errorf("byteaArray(%q) = %s, want %s", rest, got, tt.array)
		}
	}
}
