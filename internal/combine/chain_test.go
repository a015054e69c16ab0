package combine

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Paths of the synthetic chain: a table in database 5 and one in tablespace 16400.
const (
	synthTable   = "base/5/16384"
	synthSpcOID  = "16400"
	synthSpcFile = "pg_tblspc/16400/PG_17_202406281/5/16500"
)

// incrementalName is rel's INCREMENTAL file.
func incrementalName(rel string) string {
	dir, name := filepath.Split(rel)
	return dir + "INCREMENTAL." + name
}

// synthChain is a full backup and two incrementals of one cluster, each linking tablespace 16400
// to a directory of its own under root, the table and the tablespace's file changed in each.
func synthChain(root string) []synth {
	spc := func(i string) map[string]string {
		return map[string]string{"pg_tblspc/" + synthSpcOID: filepath.Join(root, "b"+i+"_spc")}
	}
	return []synth{
		{systemID: 7001, start: 0x2000028, timeline: 1, links: spc("0"), files: map[string][]byte{
			synthTable: pages(0x10, 4), synthSpcFile: pages(0x30, 3), "base/5/PG_VERSION": []byte("17\n"),
			"pg_wal/000000010000000000000002": pages(0x01, 1), "postgresql.conf": []byte("port = 5432\n"),
		}},
		{systemID: 7001, start: 0x4000028, timeline: 1, fromLSN: 0x2000028, fromTimeline: 1, links: spc("1")},
		{systemID: 7001, start: 0x6000028, timeline: 1, fromLSN: 0x4000028, fromTimeline: 1, links: spc("2")},
	}
}

// withIncrementals fills the incrementals' files: both relation files as INCREMENTAL files.
func withIncrementals(t *testing.T, c []synth) {
	c[1].files = map[string][]byte{
		incrementalName(synthTable): incrementalFile(t, 0x50, 4, 1), incrementalName(synthSpcFile): incrementalFile(t, 0x60, 3, 0),
		"base/5/PG_VERSION": []byte("17\n"), "pg_wal/000000010000000000000004": pages(0x02, 1), "postgresql.conf": []byte("port = 5432\n"),
	}
	c[2].files = map[string][]byte{
		incrementalName(synthTable): incrementalFile(t, 0x90, 5, 3, 4), incrementalName(synthSpcFile): incrementalFile(t, 0xA0, 3),
		"base/5/PG_VERSION": []byte("17\n"), "pg_wal/000000010000000000000006": pages(0x03, 1), "postgresql.conf": []byte("port = 5433\n"),
	}
}

// writeChain writes c under root as b0, b1, ...
func writeChain(t *testing.T, root string, c []synth) []string {
	var dirs []string
	for i, s := range c {
		dirs = append(dirs, s.write(t, filepath.Join(root, "b"+string(rune('0'+i)))))
	}
	return dirs
}

// TestChainChecks breaks a good chain one way at a time: Combine must refuse it with an error
// naming the backup at fault, and write nothing.
func TestChainChecks(t *testing.T) {
	tests := []struct {
		name   string
		change func(c []synth)                   // before the chain is written
		after  func(t *testing.T, dirs []string) // after
		opts   func(o *Options)
		at     int // the backup the error names
		want   string
	}{
		{name: "another cluster", change: func(c []synth) { c[1].systemID = 9 }, at: 1, want: "another cluster"},
		{name: "manifest of another cluster", change: func(c []synth) { c[2].manifestSysID = 9 }, at: 2, want: "names system identifier 9"},
		{name: "wrong INCREMENTAL FROM LSN", change: func(c []synth) { c[2].fromLSN++ }, at: 2, want: "is incremental from 0/4000029 on timeline 1"},
		{name: "wrong INCREMENTAL FROM TLI", change: func(c []synth) { c[1].fromTimeline = 2 }, at: 1, want: "on timeline 2, but the backup before it"},
		{name: "starts with an incremental", change: func(c []synth) { c[0].fromLSN, c[0].fromTimeline = 0x1000028, 1 }, at: 0, want: "a chain starts with a full backup"},
		{name: "a full backup after the first", change: func(c []synth) { c[2].fromLSN, c[2].fromTimeline = 0, 0 }, at: 2, want: "is a full backup"},
		{name: "missing manifest", change: func(c []synth) { c[1].noManifest = true }, at: 1, want: "no backup_manifest"},
		{name: "manifest version 1 of another cluster", change: func(c []synth) { c[0].manifestVer = 1; c[1].systemID = 9 }, at: 1, want: "another cluster"},
		{name: "another major", change: func(c []synth) { c[2].version = "18" }, at: 2, want: "PostgreSQL 18"},
		{name: "no backup_label", after: remove(1, labelName), at: 1, want: "no backup_label"},
		{name: "bad pg_control", after: flipByte(0, controlPath), at: 0, want: "CRC"},
		{name: "unfinished", after: touch(2, incompleteMarker), at: 2, want: "unfinished"},
		{name: "missing INCREMENTAL file", after: remove(1, incrementalName(synthTable)), at: 1, want: "holds neither base/5/16384"},
		{name: "full backup with an INCREMENTAL file", after: func(t *testing.T, dirs []string) {
			remove(0, synthTable)(t, dirs)
			writeFile(t, filepath.Join(dirs[0], incrementalName(synthTable)), incrementalFile(t, 0x10, 4))
		}, at: 0, want: "is the full backup but holds an incremental file"},
		{name: "truncated INCREMENTAL file", after: func(t *testing.T, dirs []string) {
			if err := os.Truncate(filepath.Join(dirs[1], incrementalName(synthTable)), 9000); err != nil {
				t.Fatal(err)
			}
		}, at: 1, want: "9000 bytes, but its header names 1 pages"},
		{name: "missing tablespace link", after: remove(1, "pg_tblspc/"+synthSpcOID), at: 1, want: "has no pg_tblspc/16400"},
		{name: "dangling tablespace link", after: func(t *testing.T, dirs []string) {
			if err := os.RemoveAll(dirs[0] + "_spc"); err != nil {
				t.Fatal(err)
			}
		}, at: 0, want: "_spc, which is missing)"},
		{name: "dangling tablespace link in the newest", after: func(t *testing.T, dirs []string) {
			if err := os.RemoveAll(dirs[2] + "_spc"); err != nil {
				t.Fatal(err)
			}
		}, at: 2, want: "which is not a directory"},
		{name: "tablespace without an output directory", opts: func(o *Options) { o.Tablespaces = nil }, at: 2, want: "has no output directory"},
		{name: "output directory for an unknown tablespace", opts: func(o *Options) { o.Tablespaces["16401"] = "/nowhere" }, at: 2, want: "no tablespace 16401"},
		{name: "a file and its INCREMENTAL file", after: touch(2, synthTable), at: 2, want: "holds both base/5/16384 and base/5/INCREMENTAL.16384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			c := synthChain(root)
			withIncrementals(t, c)
			if tt.change != nil {
				tt.change(c)
			}
			dirs := writeChain(t, root, c)
			if tt.after != nil {
				tt.after(t, dirs)
			}
			out, outSpc := filepath.Join(root, "out"), filepath.Join(root, "out_spc")
			opts := Options{Tablespaces: map[string]string{synthSpcOID: outSpc}, NoSync: true}
			if tt.opts != nil {
				tt.opts(&opts)
			}
			err := Combine(dirs, out, opts)
			if err == nil || !strings.HasPrefix(err.Error(), "backup "+dirs[tt.at]+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant one naming backup %s and saying %q", err, dirs[tt.at], tt.want)
			}
			for _, p := range []string{out, outSpc} {
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s was made (%v); a refused chain must leave nothing", p, err)
				}
			}
		})
	}
}

func remove(i int, rel string) func(*testing.T, []string) {
	return func(t *testing.T, dirs []string) {
		if err := os.Remove(filepath.Join(dirs[i], rel)); err != nil {
			t.Fatal(err)
		}
	}
}

func touch(i int, rel string) func(*testing.T, []string) {
	return func(t *testing.T, dirs []string) { writeFile(t, filepath.Join(dirs[i], rel), []byte("x")) }
}

func flipByte(i int, rel string) func(*testing.T, []string) {
	return func(t *testing.T, dirs []string) {
		name := filepath.Join(dirs[i], rel)
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		body[100] ^= 1
		writeFile(t, name, body)
	}
}
