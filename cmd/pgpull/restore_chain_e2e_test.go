package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestRestoreChain: a full backup and two incremental ones, in a plain directory, a plain
// directory and a zstd stream, with a tablespace: the first two restored in one command, then
// brought up to the third by --delta, make a copy that starts with every table as the primary
// had it; the chain less its middle backup, and an
// incremental backup alone, are refused in one line with nothing left behind, not even the
// temporary directories.
func TestRestoreChain(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if src.Major >= 17 {
		summarizeWAL(t, src)
	}
	if out, err := src.Pgbench(ctx, "-i", "-q", "-s", "2").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	addUnlogged(t, src)
	live, oid := addTablespace(t, src)
	base := t.TempDir()
	full := filepath.Join(base, "full")
	backupOK(t, "backup", "-c", "fast", "-T", live+"="+filepath.Join(base, "full-ts"), src.DSN(), full)
	runPgbench(t, src, 100)
	mustExec(t, src, `UPDATE spaced SET g = -g WHERE g <= 100`)
	inc1 := filepath.Join(base, "inc1")
	backupOK(t, "backup", "-c", "fast", "--incremental-from", full, "-T", live+"="+filepath.Join(base, "inc1-ts"), src.DSN(), inc1)
	runPgbench(t, src, 100)
	mustExec(t, src, `CREATE TABLE later AS SELECT g FROM generate_series(1, 5000) g`)
	inc2 := filepath.Join(base, "inc2.tar.zst")
	streamBackup(t, inc2, "-c", "fast", "-Z", "zstd", "--incremental-from", inc1, src.DSN())
	want := tableDigests(t, src)
	checkListedChain(t, base, full, inc1, inc2)

	refused := []struct {
		name, want string
		chain      []string
	}{
		{"a chain missing its middle", "but the backup before it, " + full, []string{full, inc2}},
		{"an incremental alone", "is an incremental backup", []string{inc2}},
		{"a chain without its full backup", "a chain starts with a full backup", []string{inc1, inc2}},
	}
	out := filepath.Join(base, "refused")
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"restore", "-T", oid + "=" + filepath.Join(base, "refused-ts")}, tt.chain...), out)
			code, stderr := runCLI(t, nil, args...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, %q; want a refusal mentioning %q", code, stderr, tt.want)
			}
			checkOneLine(t, stderr)
			for _, p := range []string{out, filepath.Join(base, "refused-ts")} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("the refused restore left %s behind (%v)", p, err)
				}
			}
			checkNoTemp(t, base)
		})
	}

	dir, ts := filepath.Join(base, "copy"), filepath.Join(base, "copy-ts")
	restoreOK(t, "-v", "-T", oid+"="+ts, full, inc1, dir) // combined straight into dir
	checkNoTemp(t, base)
	restoreOK(t, "-v", "--delta", full, inc1, inc2, dir) // combined aside, dir brought up to it
	checkNoTemp(t, base)
	r := testcluster.AdoptForTest(t, dir)
	checkRestored(t, r)
	checkTablespace(t, r, oid, ts)
	sameTables(t, "restored from a chain", tableDigests(t, r), want)
}

// checkNoTemp fails t if a chain's temporary directory was left in dir.
func checkNoTemp(t *testing.T, dir string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(dir, ".pgpull-restore-*"))
	if len(left) > 0 {
		t.Errorf("temporary directories left behind: %v", left)
	}
}

// checkListedChain holds pgpull list --json of dir to the chain in it: the full backup, then each
// incremental one on the one before; the last, a zstd stream, is read with --read-streams only,
// and listed last without it.
func checkListedChain(t *testing.T, dir string, chain ...string) {
	t.Helper()
	for _, read := range []bool{false, true} {
		args := []string{"list", "--json", dir}
		if read {
			args = append(args, "--read-streams")
		}
		var out bytes.Buffer
		if code, stderr := runCLI(t, &out, args...); code != 0 {
			t.Fatalf("pgpull list failed (%d): %s", code, stderr)
		}
		var l listJSON
		if err := json.Unmarshal(out.Bytes(), &l); err != nil {
			t.Fatalf("pgpull list --json: %v\n%s", err, out.String())
		}
		if len(l.Backups) != len(chain) {
			t.Fatalf("pgpull list found %d backups, want %d:\n%s", len(l.Backups), len(chain), out.String())
		}
		for i, b := range l.Backups {
			wantOn, last := "", i == len(chain)-1
			if i > 0 && (read || !last) {
				wantOn = chain[i-1]
			}
			unread := last && !read // a compressed stream's manifest is its last member
			if b.Location != chain[i] || b.DependsOn != wantOn || b.Incremental != (i > 0 && !unread) || (b.StopLSN == "") != unread {
				t.Errorf("--read-streams %v: backup %d listed as %+v; want %s, on %q", read, i, b, chain[i], wantOn)
			}
		}
	}
}
