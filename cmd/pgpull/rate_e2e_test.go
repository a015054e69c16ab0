package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupMaxRate: -r holds the average rate of a backup to its cap, measured from the moment
// the backup started on the server (before the first byte is read; the stream's own first byte
// comes later, once the first whole batch is in) to the end of the stream. A 2M cap once failed
// outright (a batch row larger than the limiter's burst). The upper bound is what a user relies
// on; the lower one is loose because a loaded machine may fall short of the cap.
func TestBackupMaxRate(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	const capBytes = 2 << 20
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	type measured struct {
		bytes int64
		until time.Time
		err   error
	}
	got := make(chan measured, 1)
	go func() {
		var m measured
		m.bytes, m.err = fileBytes(tar.NewReader(r))
		m.until = time.Now()
		io.Copy(io.Discard, r)
		got <- m
	}()
	stderr := &lineClock{mark: "backup started at"}
	args := []string{"backup", "-v", "-c", "fast", "-r", "2M", "--wal-interval", "200ms", src.DSN(), "-"}
	code := run(args, w, stderr)
	w.Close()
	m := <-got
	r.Close()
	t.Logf("pgpull %s -> %d\n%s", strings.Join(args, " "), code, stderr.String())
	if code != 0 {
		t.Fatalf("pgpull backup -r 2M failed (%d)", code)
	}
	if m.err != nil || stderr.at.IsZero() {
		t.Fatalf("reading the stream: %v; start seen at %v", m.err, stderr.at)
	}
	elapsed := m.until.Sub(stderr.at)
	rate := float64(m.bytes) / elapsed.Seconds()
	t.Logf("%d bytes of files in %s: %.0f B/s, cap %d B/s (%.2fx)", m.bytes, elapsed, rate, capBytes, rate/capBytes)
	if rate > 1.15*capBytes {
		t.Errorf("average %.0f B/s exceeds the 2M cap by more than 15%%", rate)
	}
	if rate < 0.5*capBytes {
		t.Errorf("average %.0f B/s is less than half the 2M cap", rate)
	}
}

// lineClock keeps what is written to it and notes when mark was first written.
type lineClock struct {
	bytes.Buffer
	mark string
	at   time.Time
}

func (c *lineClock) Write(p []byte) (int, error) {
	if c.at.IsZero() && bytes.Contains(p, []byte(c.mark)) {
		c.at = time.Now()
	}
	return c.Buffer.Write(p)
}

// fileBytes sums the bytes of a tar stream's regular files that pgpull read from the server:
// backup_manifest, which pgpull writes itself, is left out, and so is a WAL segment's zero tail,
// which pgpull writes without reading (it reads the last segment only through the stop LSN's
// page).
func fileBytes(tr *tar.Reader) (int64, error) {
	var n int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		switch {
		case hdr.Typeflag != tar.TypeReg || hdr.Name == "backup_manifest":
		case strings.HasPrefix(hdr.Name, "pg_wal/"):
			body, err := io.ReadAll(tr)
			if err != nil {
				return n, err
			}
			n += int64(len(bytes.TrimRight(body, "\x00")))
		default:
			n += hdr.Size
		}
	}
}
