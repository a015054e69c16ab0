package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestRestoreS3: backups in the S3 store restore straight from it: a -F tar backup (which, restored
// to a directory, is the prior of the next), a chain of it and an incremental -F tar backup, and
// a backup kept as one stream object; the chain and the stream each start with every table as
// the primary had it, their tablespace where -T says.
func TestRestoreS3(t *testing.T) {
	srv := s3Store(t)
	endpoint := []string{"--s3-endpoint", srv.Endpoint()}
	backupTo := func(args ...string) {
		backupOK(t, append(append([]string{"backup", "-c", "fast", "-Z", "zstd"}, endpoint...), args...)...)
	}
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if src.Major >= 17 {
		summarizeWAL(t, src)
	}
	if out, err := src.Pgbench(context.Background(), "-i", "-q", "-s", "2").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	addUnlogged(t, src)
	live, oid := addTablespace(t, src)
	base := t.TempDir()
	full, inc, stream := "s3://"+s3Bucket+"/full", "s3://"+s3Bucket+"/inc", "s3://"+s3Bucket+"/stream"
	backupTo("-F", "tar", src.DSN(), full)
	prior := filepath.Join(base, "prior")
	restoreOK(t, append(endpoint, "-T", live+"="+filepath.Join(base, "prior-ts"), full, prior)...)

	runPgbench(t, src, 100)
	mustExec(t, src, `UPDATE spaced SET g = -g WHERE g <= 100`)
	backupTo("-F", "tar", "--incremental-from", prior, src.DSN(), inc)
	backupTo(src.DSN(), stream)
	want := tableDigests(t, src)

	tests := []struct {
		name    string
		sources []string
		old     string
	}{
		{"chain", []string{full, inc}, live},
		{"stream object", []string{stream}, oid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, ts := filepath.Join(base, tt.name), filepath.Join(base, tt.name+"-ts")
			restoreOK(t, append(append(append(endpoint, "-T", tt.old+"="+ts), tt.sources...), dir)...)
			r := testcluster.AdoptForTest(t, dir)
			checkRestored(t, r)
			checkTablespace(t, r, oid, ts)
			sameTables(t, "restored from S3's "+tt.name, tableDigests(t, r), want)
		})
	}
}
