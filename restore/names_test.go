package restore

import "testing"

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"base/1/1259", true},
		{"pg_tblspc/16384/PG_15_202209061/5/1", true},
		{"..x", true},
		{"../x", false},
		{"base/../../x", false},
		{"/etc/x", false},
		{"base//1", false},
		{"./base", false},
		{"base/1/", false},
		{"", false},
		{"a\x00b", false},
	}
	for _, tt := range tests {
		if err := checkName("test", tt.name); (err == nil) != tt.ok {
			t.Errorf("checkName(%q): %v, want accepted: %v", tt.name, err, tt.ok)
		}
	}
}
