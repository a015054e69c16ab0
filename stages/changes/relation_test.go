package changes

import "testing"

func TestParseSegmentFile(t *testing.T) {
	tests := []struct {
		path string
		want segmentFile
		ok   bool
	}{
		{"base/5/16384", segmentFile{fork: fork{database{1663, 5}, 16384, mainFork}}, true},
		{"base/5/16384.3", segmentFile{fork: fork{database{1663, 5}, 16384, mainFork}, Segment: 3}, true},
		{"base/5/16384_fsm", segmentFile{fork: fork{database{1663, 5}, 16384, fsmFork}}, true},
		{"base/5/16384_vm.1", segmentFile{fork: fork{database{1663, 5}, 16384, vmFork}, Segment: 1}, true},
		{"base/5/16384_init", segmentFile{fork: fork{database{1663, 5}, 16384, initFork}}, true},
		{"global/1262", segmentFile{fork: fork{database{1664, 0}, 1262, mainFork}}, true},
		{"pg_tblspc/16400/PG_17_202406281/5/16384", segmentFile{fork: fork{database{16400, 5}, 16384, mainFork}}, true},
		{"base/5/PG_VERSION", segmentFile{}, false},
		{"base/5/pg_filenode.map", segmentFile{}, false},
		{"global/pg_control", segmentFile{}, false},
		{"base/5/16384_xyz", segmentFile{}, false},
		{"base/5/0", segmentFile{}, false},
		{"base/5/99999999999", segmentFile{}, false},
		{"base/x/16384", segmentFile{}, false},
		{"pg_tblspc/x/PG_17_1/5/16384", segmentFile{}, false},
		{"pg_wal/000000010000000000000001", segmentFile{}, false},
		{"16384", segmentFile{}, false},
	}
	for _, tt := range tests {
		got, ok := parseSegmentFile(tt.path)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("parseSegmentFile(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}
