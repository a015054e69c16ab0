package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/bench/weed"
	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/s3store"
	"github.com/pgpull/pgpull/internal/testcluster"
)

const (
	s3Bucket = "pgpull"
	s3Key    = "test-key-1234"
	s3Secret = "test-secret-5678"
)

// s3Store starts weed with authentication on and bucket s3Bucket, and gives pgpull the
// credentials through the AWS variables, as a user would.
func s3Store(t *testing.T) *weed.Server {
	t.Helper()
	srv := weed.ForTest(t, weed.Options{Bucket: s3Bucket, AccessKey: s3Key, SecretKey: s3Secret})
	t.Setenv("AWS_ACCESS_KEY_ID", s3Key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3Secret)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ENDPOINT_URL", "")
	return srv
}

// s3Open reaches location on endpoint as the test's user.
func s3Open(t *testing.T, endpoint, location string) *s3store.Store {
	t.Helper()
	loc, err := s3store.ParseURL(location)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s3store.Open(context.Background(), s3store.Config{Endpoint: endpoint}, loc)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// s3Names fails t unless the objects under location are exactly want.
func s3Names(t *testing.T, st *s3store.Store, want ...string) {
	t.Helper()
	names, err := st.Names(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("objects under %s: %v; want %v", st.Location(), names, want)
	}
}

// s3Extract streams object name, decompressed by content, into dir.
func s3Extract(t *testing.T, st *s3store.Store, name, dir string) {
	t.Helper()
	body, err := st.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	zr, _, err := compress.NewReader(body)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if err := testcluster.ExtractTar(zr, dir); err != nil {
		t.Fatal(err)
	}
}

func s3Verify(t *testing.T, endpoint, location string) {
	t.Helper()
	if code, stderr := pgpull(t, nil, "verify", "--s3-endpoint", endpoint, location); code != 0 {
		t.Fatalf("pgpull verify %s failed (%d): %s", location, code, stderr)
	}
}

// TestS3BackupUnderLoad: a backup under pgbench load goes to the store as one object, in
// several parts; verify reads it back whole; extracted, it starts and is consistent.
func TestS3BackupUnderLoad(t *testing.T) {
	srv := s3Store(t)
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	addUnlogged(t, src)
	load := loadPgbench(t, src, "10")
	location := "s3://" + s3Bucket + "/runs/one"
	code, stderr := pgpull(t, nil, "backup", "-j", "4", "-c", "fast", "-v", "--s3-endpoint", srv.Endpoint(), src.DSN(), location)
	load.stop(t)
	if code != 0 {
		t.Fatalf("pgpull backup failed (%d): %s", code, stderr)
	}
	st := s3Open(t, srv.Endpoint(), location)
	s3Names(t, st, "base.tar")
	s3Verify(t, srv.Endpoint(), location)
	dir := filepath.Join(t.TempDir(), "restored")
	s3Extract(t, st, "base.tar", dir)
	checkRestored(t, testcluster.AdoptForTest(t, dir))
	checkServerClean(t, src)
}

// TestS3TarZstdWithTablespace: -F tar -Z zstd writes pg_basebackup -Ft's objects, the manifest
// among them; they restore with the tablespace where tablespace_map says.
func TestS3TarZstdWithTablespace(t *testing.T) {
	srv := s3Store(t)
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	live, oid := addTablespace(t, src)
	location := "s3://" + s3Bucket + "/tars"
	if code, stderr := pgpull(t, nil, "backup", "-F", "tar", "-Z", "zstd", "-c", "fast", "--s3-endpoint", srv.Endpoint(), src.DSN(), location); code != 0 {
		t.Fatalf("pgpull backup failed (%d): %s", code, stderr)
	}
	st := s3Open(t, srv.Endpoint(), location)
	s3Names(t, st, "base.tar.zst", oid+".tar.zst", "backup_manifest")
	s3Verify(t, srv.Endpoint(), location)
	dir := filepath.Join(t.TempDir(), "restored")
	s3Extract(t, st, "base.tar.zst", dir)
	moved := filepath.Join(t.TempDir(), "ts-restored")
	s3Extract(t, st, oid+".tar.zst", moved)
	moveTablespace(t, dir, oid, live, moved)
	r := testcluster.AdoptForTest(t, dir)
	n, err := r.QueryInt(context.Background(), `SELECT count(*) FROM spaced`)
	if err != nil || n != 50000 {
		t.Errorf("table in the tablespace: %d rows, %v; want 50000", n, err)
	}
}

// TestS3RefusedBeforeServer: a missing bucket or refused credentials cost one line, and come
// before pgpull connects, so the server never sees pg_backup_start: the DSN names a closed port,
// and any attempt to reach it would fail with a connection error instead of the store's.
func TestS3RefusedBeforeServer(t *testing.T) {
	srv := s3Store(t)
	closed, err := testcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres password=%s", closed, secret)
	tests := []struct {
		name   string
		env    map[string]string
		target string
		want   string
	}{
		{"missing bucket", nil, "s3://no-such-bucket/x", `bucket "no-such-bucket" does not exist`},
		{"wrong secret", map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong"}, "s3://" + s3Bucket + "/x", "refused the credentials"},
		{"unknown key", map[string]string{"AWS_ACCESS_KEY_ID": "nobody"}, "s3://" + s3Bucket + "/x", "refused the credentials"},
		{"no bucket in the URL", nil, "s3:///x", "names no bucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, stderr := pgpull(t, nil, "backup", "--s3-endpoint", srv.Endpoint(), dsn, tt.target)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, tt.want)
			}
			secrets := []string{secret, s3Secret}
			if wrong := tt.env["AWS_SECRET_ACCESS_KEY"]; wrong != "" {
				secrets = append(secrets, wrong)
			}
			checkOneLine(t, stderr, secrets...)
		})
	}
}

// waitFor polls cond every 50 ms until it holds, failing t after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
	}
}

// TestS3StoreStoppedMidUpload: the store goes away with parts sent; pgpull fails with a line
// naming the upload, keeps trying to abort it, and once the store is back no upload is left
// open, and nothing of pgpull is left on the server.
func TestS3StoreStoppedMidUpload(t *testing.T) {
	srv := s3Store(t)
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	load := loadPgbench(t, src, "10")
	location := "s3://" + s3Bucket + "/stopped"
	st := s3Open(t, srv.Endpoint(), location)
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	args := []string{"backup", "-j", "2", "-c", "fast", "--max-rate", "20M", "--s3-endpoint", srv.Endpoint(), src.DSN(), location}
	go func() { done <- run(args, os.Stdout, stderr) }()
	waitFor(t, 2*time.Minute, "a part of base.tar stored", func() bool {
		parts, err := st.UploadedParts(context.Background(), "base.tar")
		return err == nil && parts > 0
	})
	srv.Stop()
	waitFor(t, time.Minute, "pgpull retrying the abort", func() bool { return strings.Contains(stderr.String(), "cannot abort the upload") })
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var code int
	select {
	case code = <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("pgpull still running 3 minutes after the store came back")
	}
	load.stop(t)
	out := stderr.String()
	t.Logf("exit %d:\n%s", code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if code != 1 || !strings.Contains(last, "s3://"+s3Bucket+"/stopped/base.tar") || !strings.Contains(last, "the store at "+srv.Endpoint()+" did not answer") {
		t.Errorf("exit %d, last line %q; want 1 and a line naming the object and the store that did not answer", code, last)
	}
	checkOneLine(t, last, s3Secret)
	open, err := st.OpenUploads(context.Background())
	if err != nil || len(open) != 0 {
		t.Errorf("uploads left open: %v (%v); want none", open, err)
	}
	checkServerClean(t, src)
}

// TestS3Interrupted: ^C with parts of base.tar stored ends pgpull with a failure, the upload
// aborted (none left open, no object), and nothing of pgpull left on the server.
func TestS3Interrupted(t *testing.T) {
	srv := s3Store(t)
	src := clusterWith46MB(t)
	bin := buildPgpull(t)
	location := "s3://" + s3Bucket + "/interrupted"
	st := s3Open(t, srv.Endpoint(), location)
	cmd := exec.Command(bin, "backup", "-c", "fast", "--max-rate", "4M", "--s3-endpoint", srv.Endpoint(), src.DSN(), location)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "a part of base.tar stored", func() bool {
		parts, err := st.UploadedParts(context.Background(), "base.tar")
		return err == nil && parts > 0
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, time.Minute); code == 0 {
		t.Errorf("pgpull exit 0 after ^C mid-upload: %s", stderr.String())
	}
	open, err := st.OpenUploads(context.Background())
	if err != nil || len(open) != 0 {
		t.Errorf("uploads left open: %v (%v); want none", open, err)
	}
	s3Names(t, st)
	checkServerClean(t, src)
}
