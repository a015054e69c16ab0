package list

import (
	"strconv"
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

func TestParseRelationFile(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		want relationFile
	}{
		{"16384", true, relationFile{"16384", "", 0}},
		{"16384.3", true, relationFile{"16384", "", 3}},
		{"16384_fsm", true, relationFile{"16384", "fsm", 0}},
		{"16384_vm.1", true, relationFile{"16384", "vm", 1}},
		{"16384_init", true, relationFile{"16384", "init", 0}},
		{"1234567890", true, relationFile{"1234567890", "", 0}},
		{"12345678901", false, relationFile{}},
		{"16384_foo", false, relationFile{}},
		{"16384.", false, relationFile{}},
		{"16384.x", false, relationFile{}},
		{"PG_VERSION", false, relationFile{}},
		{"pg_filenode.map", false, relationFile{}},
		{"t1_2", false, relationFile{}},
		{"", false, relationFile{}},
	}
	for _, tt := range tests {
		got, ok := parseRelationFile(tt.name)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("parseRelationFile(%q) = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIsTempRelation(t *testing.T) {
	// The names PostgreSQL's own pg_basebackup test plants, and look-alikes that are not temp.
	for _, name := range []string{"t999_999", "t9999_999.1", "t999_9999_vm", "t99999_99999_vm.1", "t888_888", "t888888_888888_vm.1"} {
		if !isTempRelation(name) {
			t.Errorf("isTempRelation(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"16384", "t_1", "t1", "t1_", "t1_x", "tx_1", "PG_VERSION"} {
		if isTempRelation(name) {
			t.Errorf("isTempRelation(%q) = true, want false", name)
		}
	}
}

func TestDatabaseDirAndPageSegment(t *testing.T) {
	tests := []struct {
		dir, name string
		db        bool
		segment   int
	}{
		{"base/5", "16384", true, 0},
		{"base/5", "16384.2", true, 2},
		{"base/5", "16384_fsm", true, 0},
		{"base/5", "PG_VERSION", true, -1},
		{"base/5", "pg_filenode.map", true, -1},
		{"global", "1262", false, 0},
		{"global", "pg_control", false, -1},
		{"pg_tblspc/16390/PG_15_202209061/5", "16391", true, 0},
		{"pg_tblspc/16390/PG_15_202209061", "5", false, -1},
		{"base", "5", false, -1},
		{"pg_xact", "0000", false, -1},
		{"base/pgsql_tmp", "16384", false, -1},
	}
	for _, tt := range tests {
		if got := isDatabaseDir(tt.dir); got != tt.db {
			t.Errorf("isDatabaseDir(%q) = %v, want %v", tt.dir, got, tt.db)
		}
		if got := pageSegment(tt.dir, tt.name); got != tt.segment {
			t.Errorf("pageSegment(%q, %q) = %d, want %d", tt.dir, tt.name, got, tt.segment)
		}
	}
}

func FuzzParseRelationFile(f *testing.F) {
	for _, s := range []string{"16384", "16384_vm.1", "1_init", "x", "16384..1", "1_fsm.0", "0.00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r, ok := parseRelationFile(name)
		if !ok {
			return
		}
		// What parses, printed in canonical form, parses back to the same parts.
		back := r.node
		if r.fork != "" {
			back += "_" + r.fork
		}
		back += "." + strconv.Itoa(r.segment)
		again, ok := parseRelationFile(back)
		if !ok || again != r {
			t.Fatalf("%q parsed as %+v; its canonical form %q parses as %+v, %v", name, r, back, again, ok)
		}
	})
}
