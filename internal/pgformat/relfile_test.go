package pgformat

import (
	"strconv"
	"testing"
)

func TestParseRelationFile(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		want RelationFile
	}{
		{"16384", true, RelationFile{"16384", "", 0}},
		{"16384.3", true, RelationFile{"16384", "", 3}},
		{"16384_fsm", true, RelationFile{"16384", "fsm", 0}},
		{"16384_vm.1", true, RelationFile{"16384", "vm", 1}},
		{"16384_init", true, RelationFile{"16384", "init", 0}},
		{"1234567890", true, RelationFile{"1234567890", "", 0}},
		{"12345678901", false, RelationFile{}},
		{"16384_foo", false, RelationFile{}},
		{"16384.", false, RelationFile{}},
		{"16384.x", false, RelationFile{}},
		{"PG_VERSION", false, RelationFile{}},
		{"pg_filenode.map", false, RelationFile{}},
		{"t1_2", false, RelationFile{}},
		{"", false, RelationFile{}},
	}
	for _, tt := range tests {
		got, ok := ParseRelationFile(tt.name)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("ParseRelationFile(%q) = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIsTempRelation(t *testing.T) {
	// The names PostgreSQL's own pg_basebackup test plants, and look-alikes that are not temp.
	for _, name := range []string{"t999_999", "t9999_999.1", "t999_9999_vm", "t99999_99999_vm.1", "t888_888", "t888888_888888_vm.1"} {
		if !IsTempRelation(name) {
			t.Errorf("IsTempRelation(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"16384", "t_1", "t1", "t1_", "t1_x", "tx_1", "PG_VERSION"} {
		if IsTempRelation(name) {
			t.Errorf("IsTempRelation(%q) = true, want false", name)
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
		if got := IsDatabaseDir(tt.dir); got != tt.db {
			t.Errorf("IsDatabaseDir(%q) = %v, want %v", tt.dir, got, tt.db)
		}
		if got := PageSegment(tt.dir, tt.name); got != tt.segment {
			t.Errorf("PageSegment(%q, %q) = %d, want %d", tt.dir, tt.name, got, tt.segment)
		}
	}
}

func FuzzParseRelationFile(f *testing.F) {
	for _, s := range []string{"16384", "16384_vm.1", "1_init", "x", "16384..1", "1_fsm.0", "0.00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r, ok := ParseRelationFile(name)
		if !ok {
			return
		}
		// What parses, printed in canonical form, parses back to the same parts.
		back := r.Node
		if r.Fork != "" {
			back += "_" + r.Fork
		}
		back += "." + strconv.Itoa(r.Segment)
		again, ok := ParseRelationFile(back)
		if !ok || again != r {
			t.Fatalf("%q parsed as %+v; its canonical form %q parses as %+v, %v", name, r, back, again, ok)
		}
	})
}
