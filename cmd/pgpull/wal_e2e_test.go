package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
)

const walSegSize = 16 << 20

// TestWALFeed runs `pgpull wal` beside a server that writes and switches WAL: every segment
// the server finished while the feed ran must be in DIR, byte for byte, under its final name; the
// segment being written only as NAME.partial; and the feed must stop cleanly on SIGINT. Each
// segment is copied partial before it is finished, so that its finished copy is the partial one
// and the rest read since.
func TestWALFeed(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true, Conf: []string{"wal_keep_size = 1GB"}})
	if err := src.Exec(ctx, `CREATE TABLE filler AS SELECT 1 AS g`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	feed := startFeed(t, buildPgpull(t), "--interval", "200ms", "-v", src.DSN(), dir)
	first := feedStart(t, feed)
	for i := range 3 {
		if err := src.Exec(ctx, `INSERT INTO filler SELECT generate_series(1, 20000)`); err != nil {
			t.Fatal(err)
		}
		waitForFiles(t, feed, dir, writtenSegment(t, src).Name(1, walSegSize)+".partial")
		if err := src.Exec(ctx, `INSERT INTO filler SELECT generate_series(1, 20000)`); err != nil {
			t.Fatal(err)
		}
		if err := src.Exec(ctx, `SELECT pg_switch_wal()`); err != nil {
			t.Fatalf("switch %d: %v", i, err)
		}
	}
	if err := src.Exec(ctx, `INSERT INTO filler VALUES (1)`); err != nil { // the written segment exists
		t.Fatal(err)
	}
	last := writtenSegment(t, src)
	finished := segmentRange(first, last)
	waitForFiles(t, feed, dir, append(finished, last.Name(1, walSegSize)+".partial")...)
	feed.stop(t)
	if len(finished) < 3 {
		t.Errorf("%d finished segments checked, want at least 3 (from %v to %v)", len(finished), first, last)
	}
	for _, name := range finished {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(src.DataDir, "pg_wal", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("segment %s differs from the server's", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, last.Name(1, walSegSize))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the segment being written is in DIR under its final name (%v): a PITR archive would take it as complete", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*pgpull-tmp"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left in DIR: %v", leftovers)
	}
}

// TestWALFeedKeepsAStandby feeds DIR from a primary as the role `pgpull grants` prints, with a
// slot, into files of mode 0640 in a directory of the server's group, and runs a warm standby,
// made from a pgpull backup, whose restore_command copies from DIR. Rows written on the primary
// after the backup must reach the standby: after a WAL switch in the default mode, and without
// one after a restart in --warm-standby mode, with no gap across the restart, and still after
// another backup ran beside the feed. A second feed reads
// the standby itself, which restores from that archive and receives nothing by streaming.
func TestWALFeedKeepsAStandby(t *testing.T) {
	ctx := context.Background()
	primary := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if err := primary.Exec(ctx, `CREATE ROLE feeder LOGIN; CREATE TABLE after_backup (i int)`); err != nil {
		t.Fatal(err)
	}
	var grants bytes.Buffer
	if code, stderr := runCLI(t, &grants, "grants", primary.DSN(), "feeder"); code != 0 {
		t.Fatalf("pgpull grants failed (%d): %s", code, stderr)
	}
	// Run as README shows it, with the optional REPLICATION line taken in, as --slot needs it.
	optional := "\n-- ALTER ROLE \"feeder\" REPLICATION;"
	if !strings.Contains(grants.String(), optional) {
		t.Fatalf("grants lack %q:\n%s", optional, grants.String())
	}
	psql := primary.Psql(ctx)
	psql.Stdin = strings.NewReader(strings.Replace(grants.String(), optional, "\nALTER ROLE \"feeder\" REPLICATION;", 1))
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql < grants: %v\n%s", err, out)
	}
	dir := serverGroupDir(t)
	bin := buildPgpull(t)
	feedArgs := []string{"--interval", "100ms", "-v", "--slot", "standby_feed", "--mode", "0640", roleDSN(primary, "feeder"), dir}
	feed := startFeed(t, bin, feedArgs...)
	first := feedStart(t, feed)

	dest := filepath.Join(t.TempDir(), "standby")
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", primary.DSN(), dest); code != 0 {
		t.Fatalf("pgpull backup failed (%d): %s", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(dest, "standby.signal"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// wal_keep_size: the second feed below reads the standby without a slot.
	conf := fmt.Sprintf("restore_command = 'cp %s/%%f %%p'\nwal_retrieve_retry_interval = '100ms'\nwal_keep_size = '1GB'\n", dir)
	if err := appendConf(filepath.Join(dest, "postgresql.auto.conf"), conf); err != nil {
		t.Fatal(err)
	}
	standby := testcluster.AdoptForTest(t, dest)

	// Default mode: the rows arrive once their segment is finished.
	// Two statements, two transactions: the commit must come before the switch.
	for _, q := range []string{`INSERT INTO after_backup SELECT generate_series(1, 100)`, `SELECT pg_switch_wal()`} {
		if err := primary.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	waitForRows(t, standby, 100)
	switched := writtenSegment(t, primary) - 1
	waitForSlot(t, primary, "standby_feed", switched+1, dir)

	// The standby as a source: it restores from DIR, so pg_last_wal_receive_lsn() is NULL.
	fromStandby := t.TempDir()
	standbyFeed := startFeed(t, bin, "--interval", "100ms", "-v", roleDSN(standby, "feeder"), fromStandby)
	waitForFiles(t, standbyFeed, fromStandby, switched.Name(1, walSegSize))
	sameFile(t, filepath.Join(dir, switched.Name(1, walSegSize)), filepath.Join(fromStandby, switched.Name(1, walSegSize)))
	standbyFeed.stop(t)

	// Warm standby mode, after a restart: the rows arrive while their segment is being written.
	feed.stop(t)
	feed = startFeed(t, bin, append([]string{"--warm-standby"}, feedArgs...)...)
	if err := primary.Exec(ctx, `INSERT INTO after_backup SELECT generate_series(101, 200)`); err != nil {
		t.Fatal(err)
	}
	waitForRows(t, standby, 200)
	// A backup beside the feed (a fast checkpoint, two WAL switches): the standby keeps replaying.
	if code, stderr := pgpull(t, nil, "backup", "-c", "fast", primary.DSN(), filepath.Join(t.TempDir(), "beside")); code != 0 {
		t.Fatalf("pgpull backup beside the feed failed (%d): %s", code, stderr)
	}
	if err := primary.Exec(ctx, `INSERT INTO after_backup SELECT generate_series(201, 300)`); err != nil {
		t.Fatal(err)
	}
	waitForRows(t, standby, 300)
	last := writtenSegment(t, primary)
	feed.stop(t)

	for _, name := range append(segmentRange(first, last), last.Name(1, walSegSize)) {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("gap in DIR: %v", err)
			continue
		}
		if st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640 as --mode asked", name, st.Mode().Perm())
		}
	}
}

// TestWALFeedGap: without a slot, a feed refuses to start on a server that keeps no WAL behind a
// checkpoint, naming the fixes; with the wal_keep_size it advises, it runs. Stopped while more
// WAL than that goes by, it must fail at restart naming the lost segment and the remedy; with
// --accept-gaps it reports the gap, skips it and goes on. A feed with a slot, stopped as long
// and through as much WAL, resumes without a gap. A role without REPLICATION is refused --slot.
func TestWALFeedGap(t *testing.T) {
	ctx := context.Background()
	// Segments of 1 MB: the 64 the advised wal_keep_size keeps go by, and are copied, quickly.
	const segSize = 1 << 20
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true, WALSegSizeMB: 1,
		Conf: []string{"max_wal_size = 4MB", "min_wal_size = 4MB", "wal_keep_size = 0"}})
	bin := buildPgpull(t)
	if err := src.Exec(ctx, `CREATE TABLE churn (i int); CREATE ROLE plain LOGIN`); err != nil {
		t.Fatal(err)
	}
	churn := func() error {
		return src.Exec(ctx, `INSERT INTO churn SELECT generate_series(1, 1000); SELECT pg_switch_wal(); CHECKPOINT`)
	}

	t.Run("no REPLICATION", func(t *testing.T) {
		code, stderr := runCLI(t, nil, "wal", "--slot", "refused", roleDSN(src, "plain"), t.TempDir())
		if code == 0 || !strings.Contains(stderr, "REPLICATION") || !strings.Contains(stderr, "pgpull grants") {
			t.Errorf("exit %d, %q; want a failure naming REPLICATION and pgpull grants", code, stderr)
		}
		checkOneLine(t, stderr)
		checkServerClean(t, src)
	})

	// Without a slot: refused until wal_keep_size is as advised.
	keep, _ := advisedKeep(t, src.DSN())
	setWALKeepSize(t, src, keep)

	// Stopped, and churned until the segment the feed needs next is gone.
	dir := t.TempDir()
	feed := startFeed(t, bin, "--interval", "100ms", src.DSN(), dir)
	lost := waitForPartial(t, feed, dir)
	feed.stop(t)
	cycles := 0
	waitUntil(t, "the server to remove "+lost, func() (bool, error) {
		cycles++
		n, err := src.QueryInt(ctx, `SELECT count(*) FROM pg_ls_waldir() WHERE name = $1`, lost)
		if err != nil || n == 0 {
			return n == 0, err
		}
		return false, churn()
	})
	code, stderr := runCLI(t, nil, "wal", src.DSN(), dir)
	if code == 0 || !strings.Contains(stderr, "WAL segment "+lost+" was removed") ||
		!strings.Contains(stderr, "--slot") || !strings.Contains(stderr, "wal_keep_size") {
		t.Errorf("exit %d, %q; want a failure naming %s, --slot and wal_keep_size", code, stderr, lost)
	}
	checkOneLine(t, stderr)

	// --accept-gaps: the gap is reported and skipped, and the next segment finished arrives.
	feed = startFeed(t, bin, "--interval", "100ms", "-v", "--accept-gaps", src.DSN(), dir)
	waitForLine(t, feed, "WAL segments "+lost+" to ")
	if err := churn(); err != nil {
		t.Fatal(err)
	}
	after := writtenSegmentOf(t, src, segSize) - 1
	waitForFiles(t, feed, dir, after.Name(1, segSize))
	feed.stop(t)

	// With a slot: the same stop, through more WAL.
	dir = t.TempDir()
	feed = startFeed(t, bin, "--interval", "100ms", "--slot", "gapless", src.DSN(), dir)
	held := waitForPartial(t, feed, dir)
	feed.stop(t)
	for range cycles + 2 {
		if err := churn(); err != nil {
			t.Fatal(err)
		}
	}
	_, from, _ := pgformat.ParseName(held, segSize)
	if err := src.Exec(ctx, `INSERT INTO churn VALUES (1)`); err != nil { // the written segment exists
		t.Fatal(err)
	}
	last := writtenSegmentOf(t, src, segSize)
	feed = startFeed(t, bin, "--interval", "100ms", "--slot", "gapless", src.DSN(), dir)
	waitForFiles(t, feed, dir, segmentRangeOf(from, last, segSize)...)
	waitForSlotOf(t, src, "gapless", last, segSize, dir)
	feed.stop(t)
	if err := src.Exec(ctx, `SELECT pg_drop_replication_slot('gapless')`); err != nil {
		t.Fatal(err)
	}
}

// TestWALBadInput runs pgpull wal on inputs a user gets wrong: each fails with one line naming
// the problem, before connecting to anything.
func TestWALBadInput(t *testing.T) {
	dir := t.TempDir()
	dsn := "host=/nonexistent user=nobody"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"mode the owner cannot read", []string{"--mode", "0044", dsn, dir}, "--mode \"0044\""},
		{"mode not octal", []string{"--mode", "rw-r-----", dsn, dir}, "octal permissions such as 0600 or 0640"},
		{"missing DIR", []string{dsn, filepath.Join(dir, "absent")}, "is not a directory: create it first"},
		{"no interval", []string{"--interval", "0s", dsn, dir}, "--interval must be positive"},
		{"no DIR", []string{dsn}, "wal needs DIR, after DSN or with -D, got 1 argument"},
		{"-D DIR and DSN DIR", []string{"-D", dir, dsn, dir}, "with -D DIR give at most DSN"},
		{"-w and -W", []string{"-w", "-W", dsn, dir}, "exclude each other"},
		{"pg_receivewal's --create-slot", []string{"--create-slot", "-S", "s1", "-D", dir}, "--create-slot is not offered: --slot NAME creates the slot when it is absent"},
		{"pg_receivewal's -Z into a directory", []string{"-Z", "gzip", "-D", dir}, "--compress applies to an s3:// archive"},
		{"compressing a directory", []string{"--compress", "zstd", dsn, dir}, "--compress applies to an s3:// archive"},
		{"compression unknown", []string{"--compress", "xz", dsn, "s3://bucket/wal"}, `--compress: invalid compression "xz"`},
		{"--from-backup for an archive", []string{"--from-backup", dir, dsn, dir}, "use it with --warm-standby"},
		{"--from-backup of no backup", []string{"--warm-standby", "--from-backup", dir, dsn, dir}, "holds neither backup_label nor backup_manifest"},
		{"warm standby in S3", []string{"--warm-standby", dsn, "s3://bucket/wal"}, "--warm-standby feeds a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runCLI(t, nil, append([]string{"wal"}, tt.args...)...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, %q; want a failure saying %q", code, stderr, tt.want)
			}
			checkOneLine(t, stderr)
		})
	}
}

// TestWALGetBadInput runs pgpull wal-get on inputs a user gets wrong in a restore_command: each
// fails with one line naming the problem, before reaching any store.
func TestWALGetBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no DEST", []string{"s3://bucket/wal", "000000010000000000000001"}, "wal-get needs s3://BUCKET/PREFIX, NAME and DEST"},
		{"a directory archive", []string{"/srv/wal", "000000010000000000000001", "pg_wal/RECOVERYXLOG"}, "a directory's files are read with cp"},
		{"a path for NAME", []string{"s3://bucket/wal", "../000000010000000000000001", "pg_wal/RECOVERYXLOG"}, "is not a WAL file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runCLI(t, nil, append([]string{"wal-get"}, tt.args...)...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, %q; want a failure saying %q", code, stderr, tt.want)
			}
			checkOneLine(t, stderr)
		})
	}
}

// feedProcess is a `pgpull wal` process; its stderr goes to a file, readable while it runs.
type feedProcess struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed when the process has ended
}

func startFeed(t *testing.T, bin string, args ...string) *feedProcess {
	t.Helper()
	log := filepath.Join(t.TempDir(), "stderr")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, append([]string{"wal"}, args...)...)
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &feedProcess{cmd: cmd, log: log, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("pgpull wal %s:\n%s", strings.Join(args, " "), p.stderr())
		}
	})
	return p
}

func (p *feedProcess) stderr() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// stop interrupts the feed, which must exit 0 within 10 s.
func (p *feedProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("pgpull wal did not stop within 10 s of SIGINT\n%s", p.stderr())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("pgpull wal after SIGINT: exit %d\n%s", code, p.stderr())
	}
}

// waitUntil polls cond until it holds, failing t after two minutes or on an error.
func waitUntil(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// waitForFiles waits until every name is in dir, failing early if the feed exits.
func waitForFiles(t *testing.T, feed *feedProcess, dir string, names ...string) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%v in %s", names, dir), func() (bool, error) {
		select {
		case <-feed.exited:
			return false, fmt.Errorf("pgpull wal exited:\n%s", feed.stderr())
		default:
		}
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
				return false, nil
			}
		}
		return true, nil
	})
}

// waitForLine waits until the feed's stderr holds text, failing early if the feed exits.
func waitForLine(t *testing.T, feed *feedProcess, text string) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%q from pgpull wal", text), func() (bool, error) {
		if strings.Contains(feed.stderr(), text) {
			return true, nil
		}
		select {
		case <-feed.exited:
			return false, fmt.Errorf("pgpull wal exited:\n%s", feed.stderr())
		default:
			return false, nil
		}
	})
}

// waitForPartial waits until the feed has copied the segment being written, and returns its name.
func waitForPartial(t *testing.T, feed *feedProcess, dir string) string {
	t.Helper()
	var name string
	waitUntil(t, "a .partial segment in "+dir, func() (bool, error) {
		matches, err := filepath.Glob(filepath.Join(dir, "*.partial"))
		if len(matches) > 0 {
			sort.Strings(matches)
			name = strings.TrimSuffix(filepath.Base(matches[len(matches)-1]), ".partial")
		}
		return name != "", err
	})
	return name
}

// waitForSlot waits until the slot's restart point is in segment want or later, every segment
// it released from want on being in dir: the feed releases only what it has copied.
func waitForSlot(t *testing.T, c *testcluster.Cluster, slot string, want pgformat.Segment, dir string) {
	t.Helper()
	waitForSlotOf(t, c, slot, want, walSegSize, dir)
}

// waitForSlotOf is waitForSlot on a server of segments of size bytes. The server may write more
// WAL meanwhile (autovacuum, checkpoints), which the feed copies and releases too.
func waitForSlotOf(t *testing.T, c *testcluster.Cluster, slot string, want pgformat.Segment, size int64, dir string) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("slot %s to restart in %s or later", slot, want.Name(1, size)), func() (bool, error) {
		restart, err := c.QueryString(context.Background(), `SELECT restart_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot)
		if err != nil {
			return false, err
		}
		lsn, err := pgformat.ParseLSN(restart)
		if err != nil {
			return false, err
		}
		got := pgformat.SegmentOf(lsn, size)
		for _, name := range segmentRangeOf(want, got, size) {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				return false, fmt.Errorf("restart_lsn %s: the slot released %s, which is not in DIR", restart, name)
			}
		}
		return got >= want, nil
	})
}

// waitForRows waits until the standby has replayed n rows of after_backup.
func waitForRows(t *testing.T, standby *testcluster.Cluster, n int64) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d rows on the standby", n), func() (bool, error) {
		got, err := standby.QueryInt(context.Background(), `SELECT count(*) FROM after_backup`)
		return err == nil && got == n, nil // before replay reaches it, the table may not exist yet
	})
}

// writtenSegment is the segment a primary is writing.
// feedStart waits until a feed has said where it starts, and returns that segment: what DIR must
// hold from then on. The server's position when the feed was launched is no guide: a checkpoint
// may move the slot's start past it before the feed creates the slot.
func feedStart(t *testing.T, feed *feedProcess) pgformat.Segment {
	t.Helper()
	var seg pgformat.Segment
	waitUntil(t, "the feed's starting segment", func() (bool, error) {
		select {
		case <-feed.exited:
			return false, fmt.Errorf("pgpull wal exited:\n%s", feed.stderr())
		default:
		}
		_, after, found := strings.Cut(feed.stderr(), "starting at segment ")
		if !found || len(after) < 24 {
			return false, nil
		}
		_, s, ok := pgformat.ParseName(after[:24], walSegSize)
		if !ok {
			return false, fmt.Errorf("the feed names no segment: %q", after[:24])
		}
		seg = s
		return true, nil
	})
	return seg
}

func writtenSegment(t *testing.T, c *testcluster.Cluster) pgformat.Segment {
	t.Helper()
	return writtenSegmentOf(t, c, walSegSize)
}

// writtenSegmentOf is writtenSegment on a server of segments of size bytes.
func writtenSegmentOf(t *testing.T, c *testcluster.Cluster, size int64) pgformat.Segment {
	t.Helper()
	txt, err := c.QueryString(context.Background(), `SELECT pg_current_wal_lsn()::text`)
	if err != nil {
		t.Fatal(err)
	}
	lsn, err := pgformat.ParseLSN(txt)
	if err != nil {
		t.Fatal(err)
	}
	return pgformat.SegmentOf(lsn, size)
}

// segmentRange names the segments of timeline 1 from first up to, not including, end.
func segmentRange(first, end pgformat.Segment) []string {
	return segmentRangeOf(first, end, walSegSize)
}

// segmentRangeOf is segmentRange for segments of size bytes.
func segmentRangeOf(first, end pgformat.Segment, size int64) []string {
	var names []string
	for s := first; s < end; s++ {
		names = append(names, s.Name(1, size))
	}
	return names
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s and %s differ", a, b)
	}
}

// serverGroupDir makes a directory whose files the server's OS user reads through its group:
// owned by that group, with the setgid bit so that each new file takes the group too.
func serverGroupDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(testcluster.Scratch(), "pgpull-wal-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, 0, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o750|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	return dir
}

func appendConf(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
