package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// amountRE finds the one wording of what a backup holds, as -v's last line and verify say it.
var amountRE = regexp.MustCompile(`\d+ files? \([0-9.]+ [kMG]iB\) and \d+ WAL segments?`)

// TestBackupReports takes a backup with a spread checkpoint, -v and -d, then verifies it: the wait
// for the checkpoint is announced before anything is read, -d shows the range reads, and the
// backup and verify count the same files, bytes and WAL segments in the same words.
func TestBackupReports(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	// A spread checkpoint paces its writes over minutes: leave it nothing to write.
	if err := src.Exec(ctx, `CREATE TABLE t AS SELECT generate_series(1, 100000) AS i; CHECKPOINT`); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "copy")
	code, stderr := runCLI(t, nil, "backup", src.DSN(), dest, "-v", "--show-sql", "--range-size", "1MB")
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s", code, stderr)
	}
	wait := strings.Index(stderr, "pgpull: waiting for the server's checkpoint (spread; -c fast to hurry it)\n")
	read := strings.Index(stderr, "SQL: SELECT pg_read_binary_file($1::text, o,")
	if wait < 0 || read < 0 || wait > read {
		t.Errorf("want the checkpoint wait announced (at %d) before the first range read shown by -d (at %d)", wait, read)
	}
	if !strings.Contains(stderr, `SQL: SELECT pg_read_binary_file(t.p, t.o, t.l, true)`) {
		t.Errorf("-d does not show the batched reads of small files")
	}
	complete := regexp.MustCompile(`backup complete: (.*), WAL .* from the first byte copied`).FindStringSubmatch(stderr)
	if complete == nil {
		t.Fatalf("no 'backup complete' line with the rate from the first byte")
	}
	backupSaid := amountRE.FindString(complete[1])

	r := pgpullVerify(t, nil, dest)
	verifySaid := amountRE.FindString(r.stdout)
	if r.code != 0 || backupSaid == "" || backupSaid != verifySaid {
		t.Errorf("backup said %q, verify (exit %d) said %q; want the same count in the same words", backupSaid, r.code, verifySaid)
	}
	checkServerClean(t, src)
}
