package session

import "testing"

// TestMajorOf: the major version the preflight batches its statements for comes from the
// server_version a server announces; one it cannot read sends the preflight the slow way.
func TestMajorOf(t *testing.T) {
	tests := []struct {
		version string
		major   int
		ok      bool
	}{
		{"15.10 (Debian 15.10-1.pgdg120+1)", 15, true},
		{"17beta1", 17, true},
		{"13.22", 13, true},
		{"9.6.24", 9, true},
		{"", 0, false},
		{"devel", 0, false},
	}
	for _, tt := range tests {
		if major, ok := majorOf(tt.version); major != tt.major || ok != tt.ok {
			t.Errorf("majorOf(%q) = %d, %v; want %d, %v", tt.version, major, ok, tt.major, tt.ok)
		}
	}
}
