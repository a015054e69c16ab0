package restore

import (
	"strings"
	"testing"
)

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

func TestCheckApart(t *testing.T) {
	backup := t.TempDir()
	tests := []struct {
		name, dir, temp, want string
	}{
		{"inside the backup", backup + "/copy", "", "overlaps the backup"},
		{"the backup itself", backup, "", "overlaps the backup"},
		{"temp inside DIR", "/srv/copy", "/srv/copy/tmp", "is inside /srv/copy"},
		{"apart", "/srv/copy", "/srv/tmp", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkApart(tt.dir, Options{Sources: []Source{{Name: backup, Path: backup}}, TempDir: tt.temp})
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
