package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupRefusesDamagedWAL damages, on the server, a WAL segment the running backup needs,
// as a segment recycled under a backup that no slot protects would be: the backup must read
// it, read it again, and fail naming the segment, the LSN and the remedy, rather than exit 0
// with WAL that recovery cannot replay to the stop LSN.
func TestBackupRefusesDamagedWAL(t *testing.T) {
	ctx := context.Background()
	const segSize = 1 << 20
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true, WALSegSizeMB: 1})
	dest := filepath.Join(t.TempDir(), "copy")
	// The scanner sends no WAL before the backup stops, and the data takes seconds at 2 MB/s:
	// time in which the test writes WAL and damages it.
	started, done, start, tli := startWatchedBackup(t, "backup", "-v", "-c", "fast", "-r", "2M", "--wal-interval", "1h", src.DSN(), dest)
	// Two segments' worth of WAL, finished by a switch, then zeros from the start segment's
	// third page on.
	if err := src.Exec(ctx, `CREATE TABLE filler AS SELECT i, md5(i::text) AS v FROM generate_series(1, 20000) AS i;
		SELECT pg_switch_wal()`); err != nil {
		t.Fatal(err)
	}
	name := pgformat.SegmentOf(start, segSize).Name(tli, segSize)
	from := int64(start)%segSize - int64(start)%pgformat.WALBlockSize + 2*pgformat.WALBlockSize
	zeroFrom(t, filepath.Join(src.DataDir, "pg_wal", name), from)

	var code int
	select {
	case code = <-done:
	case <-time.After(5 * time.Minute):
		t.Fatal("pgpull still running after 5 minutes")
	}
	out := started.String()
	t.Logf("pgpull backup -> %d\n%s", code, out)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	last := lines[len(lines)-1]
	if code == 0 {
		t.Fatalf("backup with damaged WAL exited 0:\n%s", out)
	}
	for _, want := range []string{"pgpull: WAL segment " + name + " at 0/", "REPLICATION", "wal_keep_size"} {
		if !strings.Contains(last, want) {
			t.Errorf("last line %q does not say %q", last, want)
		}
	}
	if !strings.Contains(out, "reading the segment again") {
		t.Errorf("the damaged segment was not read a second time:\n%s", out)
	}
	checkServerClean(t, src)
}

// startWatchedBackup runs pgpull with args in the background and returns once the backup has
// started, with the start LSN and timeline it reported; done receives pgpull's exit code.
func startWatchedBackup(t *testing.T, args ...string) (stderr *textWatch, done <-chan int, start pgformat.LSN, tli uint32) {
	t.Helper()
	started := newTextWatch("backup started at ")
	exit := make(chan int, 1)
	go func() { exit <- run(args, io.Discard, started) }()
	select {
	case <-started.seen:
	case code := <-exit:
		t.Fatalf("pgpull ended (%d) before the backup started:\n%s", code, started.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("the backup did not start in 2 minutes:\n%s", started.String())
	}
	m := regexp.MustCompile(`backup started at (\S+) on timeline (\d+)`).FindStringSubmatch(started.String())
	if m == nil {
		t.Fatalf("no start LSN in:\n%s", started.String())
	}
	start, err := pgformat.ParseLSN(m[1])
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(m[2], 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return started, exit, start, uint32(n)
}

// zeroFrom zeroes a file from off to its end.
func zeroFrom(t *testing.T, path string, off int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, fi.Size()-off), off); err != nil {
		t.Fatal(err)
	}
}

// textWatch collects what pgpull writes to stderr and closes seen once text shows in it.
type textWatch struct {
	text string
	seen chan struct{}

	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
}

func newTextWatch(text string) *textWatch {
	return &textWatch{text: text, seen: make(chan struct{})}
}

func (w *textWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.text) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *textWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
