package combine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/backupcheck"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// blocksOf is a file of pages each filled with one of tags.
func blocksOf(tags ...byte) []byte {
	var b []byte
	for _, tag := range tags {
		b = append(b, bytes.Repeat([]byte{tag}, pgformat.BlockSize)...)
	}
	return b
}

// inPlace turns the synthetic chain's tablespace into in-place ones: directories inside each
// backup's pg_tblspc instead of links.
func inPlace(c []synth) {
	for i := range c {
		c[i].links = nil
	}
}

// TestCombineSynthetic rebuilds the synthetic chain, its tablespace linked and in place, and
// checks every file of the output against what the chain's blocks make, the label, the WAL and
// the manifest (through pgpull verify).
func TestCombineSynthetic(t *testing.T) {
	for _, tc := range []struct {
		name   string
		linked bool
	}{{"linked tablespace", true}, {"in-place tablespace", false}} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			c := synthChain(root)
			withIncrementals(t, c)
			opts := Options{}
			spcOut := filepath.Join(root, "out", filepath.FromSlash(synthSpcFile))
			if tc.linked {
				opts.Tablespaces = map[string]string{synthSpcOID: filepath.Join(root, "out_spc")}
				spcOut = filepath.Join(root, "out_spc", strings.TrimPrefix(filepath.FromSlash(synthSpcFile), "pg_tblspc/"+synthSpcOID+"/"))
			} else {
				inPlace(c)
			}
			dirs := writeChain(t, root, c)
			out := filepath.Join(root, "out")
			if err := Combine(dirs, out, opts); err != nil {
				t.Fatal(err)
			}
			label := strings.Split(string(c[2].label()), "INCREMENTAL FROM")[0]
			for name, want := range map[string][]byte{
				// Blocks 0 and 2 from the full backup, 1 from b1, 3 and 4 (past the full
				// backup's end) from b2.
				filepath.Join(out, synthTable):        blocksOf(0x10, 0x51, 0x12, 0x93, 0x94),
				spcOut:                                blocksOf(0x60, 0x31, 0x32),
				filepath.Join(out, "postgresql.conf"): []byte("port = 5433\n"),
				filepath.Join(out, "pg_wal/000000010000000000000006"):                         pages(0x03, 1),
				filepath.Join(out, labelName):                                                 []byte(label),
				filepath.Join(out, controlPath):                                               controlFile(7001),
				filepath.Join(out, "pg_tblspc", synthSpcOID, "PG_17_202406281", "5", "16500"): blocksOf(0x60, 0x31, 0x32),
			} {
				got, err := os.ReadFile(name)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: %d bytes (%v), want %d bytes as the chain makes it", name, len(got), err, len(want))
				}
			}
			for _, gone := range []string{incompleteMarker, "pg_wal/000000010000000000000004", "base/5/INCREMENTAL.16384"} {
				if _, err := os.Lstat(filepath.Join(out, gone)); err == nil {
					t.Errorf("the output holds %s", gone)
				}
			}
			// The manifest lists every file with its size and checksum; the synthetic WAL is no
			// real segment, which is all pgpull verify may find wrong.
			rep, err := backupcheck.Checker{Readers: 1}.VerifyPath(context.Background(), out)
			if err != nil || rep.Files != 7 {
				t.Fatalf("pgpull verify: %v, %+v", err, rep)
			}
			for _, p := range rep.Problems {
				if !strings.HasPrefix(p.Path, "pg_wal/") {
					t.Errorf("pgpull verify: %+v", p)
				}
			}
		})
	}
}
