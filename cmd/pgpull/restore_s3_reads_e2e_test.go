package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestRestoreS3Reads: a backup object many times the read budget (-j 2, ranges of 256 kB: 1 MiB)
// restores from S3 by ranged reads, holding no more than the budget at once (counted by the
// reader, -v says it) and starting with every table as the primary had it. With --wal-archive
// s3://..., restore_command is this pgpull's wal-get on the same store. When the store stops
// in the middle of the reads, the restore fails in one line that names the object and the store,
// and the DIR it made is gone.
func TestRestoreS3Reads(t *testing.T) {
	srv := s3Store(t)
	endpoint := []string{"--s3-endpoint", srv.Endpoint()}
	src := clusterWith46MB(t)
	location := "s3://" + s3Bucket + "/reads"
	backupOK(t, append(append([]string{"backup", "-c", "fast"}, endpoint...), src.DSN(), location)...)
	want := tableDigests(t, src)
	object := s3Open(t, srv.Endpoint(), location)
	size, _, err := object.Stat(context.Background(), "base.tar")
	if err != nil {
		t.Fatal(err)
	}
	reads := []string{"-j", "2", "--range-size", "256kB"}
	const budget = 4 * 256 << 10 // backup.Tuning's: max(2 jobs × 2, 4) ranges
	if size < 20*budget {
		t.Fatalf("base.tar holds %d bytes: too few to outgrow the budget of %d", size, budget)
	}

	base := t.TempDir()
	dir := filepath.Join(base, "data")
	stderr := restoreOK(t, append(append(append([]string{"-v"}, endpoint...), reads...), location, dir)...)
	m := regexp.MustCompile(`S3 reads: peak (\d+) of (\d+) bytes held`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("-v did not say what the S3 reads held:\n%s", stderr)
	}
	peak, _ := strconv.ParseInt(m[1], 10, 64)
	total, _ := strconv.ParseInt(m[2], 10, 64)
	if total != budget || peak <= 0 || peak > budget {
		t.Errorf("the reads held %d bytes at most against a budget of %d; want at most %d", peak, total, budget)
	}
	r := testcluster.AdoptForTest(t, dir)
	sameTables(t, "restored by ranged reads", tableDigests(t, r), want)

	t.Run("WAL archive in S3", func(t *testing.T) {
		dir := filepath.Join(base, "pitr")
		restoreOK(t, append(append([]string{"--wal-archive", "s3://" + s3Bucket + "/wal"}, endpoint...), location, dir)...)
		conf, err := os.ReadFile(filepath.Join(dir, "postgresql.auto.conf"))
		if err != nil {
			t.Fatal(err)
		}
		self, _ := os.Executable()
		want := fmt.Sprintf("restore_command = '%s wal-get --s3-endpoint %s s3://%s/wal %%f %%p'\n", self, srv.Endpoint(), s3Bucket)
		if !strings.Contains(string(conf), want) {
			t.Errorf("postgresql.auto.conf lacks %q:\n%s", want, conf)
		}
	})

	t.Run("the store stops", func(t *testing.T) {
		failed := filepath.Join(base, "failed")
		done := make(chan string, 1)
		go func() {
			args := append(append(append(append([]string{"restore"}, ownerArgs(t)...), endpoint...), "-j", "1", "--range-size", "64kB"), location, failed)
			code, stderr := pgpull(t, nil, args...)
			if code == 0 {
				stderr = "exit 0:" + stderr
			}
			done <- stderr
		}()
		waitWritten(t, failed, 8<<20, done)
		srv.Stop()
		stderr := <-done
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if len(lines) != 1 || !strings.Contains(stderr, "reading "+location+"/base.tar, bytes ") ||
			!strings.Contains(stderr, "the store at "+srv.Endpoint()+" did not answer") {
			t.Errorf("want one line naming the object and the store that did not answer, got:\n%s", stderr)
		}
		if _, err := os.Stat(failed); !os.IsNotExist(err) {
			t.Errorf("the failed restore left %s (%v); want it removed, as it was absent", failed, err)
		}
	})
}

// waitWritten waits until the files under dir hold at least n bytes, failing t if the restore
// ends (done) first.
func waitWritten(t *testing.T, dir string, n int64, done chan string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if got, _ := treeSize(dir); got >= n {
			return
		}
		select {
		case stderr := <-done:
			t.Fatalf("the restore ended before %d bytes were written: %s", n, stderr)
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("%s holds fewer than %d bytes after two minutes", dir, n)
}
