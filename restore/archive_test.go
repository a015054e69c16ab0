package restore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

const testSegSize = 16 << 20

// writeArchive makes an archive of sparse 16 MB segments, each named with its mtime.
func writeArchive(t *testing.T, files map[string]time.Time) string {
	t.Helper()
	dir := t.TempDir()
	for name, at := range files {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err == nil {
			err = f.Truncate(testSegSize)
		}
		if err == nil {
			err = f.Close()
		}
		if err == nil {
			err = os.Chtimes(p, at, at)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testManifest is a backup's manifest that ends at stop, backup_label written at stopTime.
func testManifest(stop pgformat.LSN, stopTime time.Time) *manifest.Parsed {
	return &manifest.Parsed{Version: 1,
		Files:     []manifest.FileEntry{{Path: "backup_label", LastModified: stopTime.UTC().Format(manifest.LastModifiedLayout)}},
		WALRanges: []manifest.WALRange{{Timeline: 1, Start: uint64(stop) - 0x100, End: uint64(stop)}}}
}

func TestCheckTarget(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	seg := func(n int) string { return pgformat.Segment(n).Name(1, testSegSize) }
	full := writeArchive(t, map[string]time.Time{seg(2): t0, seg(3): t0.Add(time.Minute), seg(4) + ".partial": t0.Add(2 * time.Minute)})
	gap := writeArchive(t, map[string]time.Time{seg(2): t0, seg(4): t0.Add(2 * time.Minute)})
	late := writeArchive(t, map[string]time.Time{seg(3): t0})
	stop := pgformat.LSN(2*testSegSize + 0x100) // in segment 2
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	lsn := func(v uint64) *pgformat.LSN { l := pgformat.LSN(v); return &l }
	tests := []struct {
		name    string
		archive string
		r       Recovery
		want    string
	}{
		{"time within", full, Recovery{TargetTime: at(90 * time.Second)}, ""},
		{"time in the partial segment", full, Recovery{TargetTime: at(2 * time.Minute)}, ""},
		{"time past", full, Recovery{TargetTime: at(3 * time.Minute)}, "past the WAL the archive"},
		{"time before the backup's end", full, Recovery{TargetTime: at(-time.Minute)}, "before the backup's end"},
		{"lsn within", full, Recovery{TargetLSN: lsn(5*testSegSize - 1)}, ""},
		{"lsn past", full, Recovery{TargetLSN: lsn(5*testSegSize + 1)}, "through 0/5000000"},
		{"lsn before the backup's end", full, Recovery{TargetLSN: lsn(0x100)}, "before the backup's end at 0/2000100"},
		{"lsn past a gap", gap, Recovery{TargetLSN: lsn(4*testSegSize + 1)}, "segment 000000010000000000000003 is missing"},
		{"archive without the stop segment", late, Recovery{TargetLSN: lsn(3*testSegSize + 1)}, "lacks segment 000000010000000000000002"},
		{"standby waits for more", full, Recovery{Standby: true, TargetLSN: lsn(9 * testSegSize)}, ""},
		{"restore point", full, Recovery{TargetName: "before_upgrade"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := readArchive(tt.archive)
			if err != nil {
				t.Fatal(err)
			}
			tt.r.WALArchive = tt.archive
			err = tt.r.checkTarget(testManifest(stop, t0.Add(-30*time.Second)), a)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCheckArchive(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	seg := func(n int) string { return pgformat.Segment(n).Name(1, testSegSize) }
	dir := writeArchive(t, map[string]time.Time{seg(2): t0, seg(3): t0.Add(time.Minute)})
	empty := t.TempDir()
	at := t0.Add(2 * time.Minute)
	tests := []struct {
		name, dir, want string
	}{
		{"past the newest segment", dir, "past the WAL the archive"},
		{"empty archive", empty, "holds no WAL segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := readArchive(tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			err = Recovery{WALArchive: tt.dir, TargetTime: &at}.checkArchive(a)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
