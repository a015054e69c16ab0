package list

import (
	"testing"
)

func TestSkipped(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"backup_label", true}, {"tablespace_map", true}, {"backup_manifest", true},
		{"postmaster.pid", true}, {"postmaster.opts", true}, {"postgresql.auto.conf.tmp", true},
		{"current_logfiles.tmp", true}, {"pg_internal.init", true}, {"pg_internal.init.123", true},
		{"pgsql_tmp", true}, {"pgsql_tmp1234.0", true}, {".DS_Store", true},
		{"current_logfiles", false}, {"postgresql.auto.conf", false}, {"pg_control", false},
		{"backup_label.old", false}, {"PG_VERSION", false}, {"16384", false},
	}
	for _, tt := range tests {
		if got := skipped(tt.name); got != tt.want {
			t.Errorf("skipped(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
