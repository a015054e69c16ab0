package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// verifyRun is one run of `pgpull verify`.
type verifyRun struct {
	code           int
	stdout, stderr string
}

// pgpullVerify runs `pgpull verify target` in-process. With stdin set the target is "-" and the
// command is built with that stdin, since run() always reads os.Stdin; its error is printed as
// run() prints it.
func pgpullVerify(t *testing.T, stdin io.Reader, target string) verifyRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	var code int
	if stdin == nil {
		code = run([]string{"verify", target}, &stdout, &stderr)
	} else {
		target = "-"
		if err := verifyCommand(stdin, &stdout, &stderr).run(context.Background(), []string{target}); err != nil {
			stderr.WriteString("pgpull: " + err.Error() + "\n")
			code = 1
		}
	}
	t.Logf("pgpull verify %s -> %d\nstdout:\n%sstderr:\n%s", target, code, stdout.String(), stderr.String())
	return verifyRun{code, stdout.String(), stderr.String()}
}

// verifyFixture is a small cluster with a tablespace and a backup of it in each form.
type verifyFixture struct {
	src                *testcluster.Cluster
	gzip, zstd         string // tar stream files
	plain, tarDir      string
	accounts, branches string // relation file paths of two pgbench tables
}

func newVerifyFixture(t *testing.T) *verifyFixture {
	t.Helper()
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if out, err := src.Pgbench(ctx, "-i", "-q", "-s", "1").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	base := t.TempDir()
	live := filepath.Join(base, "ts-live")
	if err := src.MkdirForServer(live); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`CREATE TABLESPACE ts1 LOCATION '` + live + `'`,
		`CREATE TABLE spaced TABLESPACE ts1 AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 10000) g`,
	} {
		if err := src.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	f := &verifyFixture{src: src, plain: filepath.Join(base, "plain"), tarDir: filepath.Join(base, "tar")}
	f.accounts = relationPath(t, src, "pgbench_accounts")
	f.branches = relationPath(t, src, "pgbench_branches")
	f.gzip = backupToFile(t, src, filepath.Join(base, "stream.gz"), "-Z", "gzip")
	f.zstd = backupToFile(t, src, filepath.Join(base, "stream.zst"), "-Z", "zstd:1")
	backupOK(t, "backup", "-c", "fast", "-T", live+"="+filepath.Join(base, "ts-copy"), src.DSN(), f.plain)
	backupOK(t, "backup", "-c", "fast", "-F", "tar", "-Z", "zstd", src.DSN(), f.tarDir)
	return f
}

func relationPath(t *testing.T, c *testcluster.Cluster, table string) string {
	t.Helper()
	p, err := c.QueryString(context.Background(), `SELECT pg_relation_filepath($1::regclass)`, table)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func backupOK(t *testing.T, args ...string) {
	t.Helper()
	if code, stderr := pgpull(t, nil, args...); code != 0 {
		t.Fatalf("pgpull %s failed (%d): %s", strings.Join(args, " "), code, stderr)
	}
}

// backupToFile writes a tar stream backup, as `pgpull backup ... DSN - > p` does.
func backupToFile(t *testing.T, c *testcluster.Cluster, p string, flags ...string) string {
	t.Helper()
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	args := append(append([]string{"backup", "-c", "fast"}, flags...), c.DSN(), "-")
	if code, stderr := pgpull(t, out, args...); code != 0 {
		t.Fatalf("pgpull %s failed (%d): %s", strings.Join(args, " "), code, stderr)
	}
	return p
}

// pipeFrom is a pipe carrying the file at p, as `cat p | pgpull verify -` gives it: no seeking.
func pipeFrom(t *testing.T, p string) io.Reader {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(w, f) // fails with EPIPE when verify stops early; that is fine
		w.Close()
		f.Close()
	}()
	t.Cleanup(func() { r.Close(); <-done })
	return r
}

func openFile(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// copyTree copies a plain backup so a test can spoil it; symlinks (pg_tblspc/<oid>) are copied
// as links, so the tablespace itself is shared and must not be spoiled.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestVerifyBackups(t *testing.T) {
	f := newVerifyFixture(t)
	// wantBad is the line a WAL case expects, known once it has found the segment it damages.
	var wantBad string

	accepted := []struct {
		name   string
		target string
		stdin  func(t *testing.T) io.Reader
	}{
		{name: "gzip stream file", target: f.gzip},
		{name: "zstd stream file", target: f.zstd},
		{name: "gzip stream on a pipe", stdin: func(t *testing.T) io.Reader { return pipeFrom(t, f.gzip) }},
		{name: "zstd stream on a pipe", stdin: func(t *testing.T) io.Reader { return pipeFrom(t, f.zstd) }},
		{name: "zstd stream redirected from a file", stdin: func(t *testing.T) io.Reader { return openFile(t, f.zstd) }},
		{name: "plain directory", target: f.plain},
		{name: "tar files", target: f.tarDir},
	}
	for _, tt := range accepted {
		t.Run("accepts "+tt.name, func(t *testing.T) {
			var stdin io.Reader
			if tt.stdin != nil {
				stdin = tt.stdin(t)
			}
			r := pgpullVerify(t, stdin, tt.target)
			if r.code != 0 || !strings.Contains(r.stdout, " verified: ") || !strings.Contains(r.stdout, " WAL segment") ||
				!strings.Contains(r.stdout, "the WAL reads whole, record by record") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 and a verified summary", r.code, r.stdout, r.stderr)
			}
		})
	}

	refused := append(fileDamages(f), walDamages(f, &wantBad)...)
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			wantBad = ""
			r := pgpullVerify(t, nil, tt.spoil(t))
			if wantBad != "" {
				tt.want = wantBad
			}
			if r.code == 0 {
				t.Fatalf("exit 0, want non-zero")
			}
			if !strings.Contains("\n"+r.stdout, "\n"+tt.want) && !strings.Contains(r.stderr, tt.want) {
				t.Errorf("output does not name the problem %q", tt.want)
			}
		})
	}

	t.Run("manifest version follows the server's", func(t *testing.T) {
		manifest, err := os.ReadFile(filepath.Join(f.plain, "backup_manifest"))
		if err != nil {
			t.Fatal(err)
		}
		sysid, err := f.src.QueryString(context.Background(), `SELECT system_identifier::text FROM pg_control_system()`)
		if err != nil {
			t.Fatal(err)
		}
		// As the server writes it: version 2 and the system identifier from 17 on, which 13 to 16's
		// parsers reject; version 1 before.
		want := "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": ["
		if f.src.Major >= 17 {
			want = "{ \"PostgreSQL-Backup-Manifest-Version\": 2,\n\"System-Identifier\": " + sysid + ",\n\"Files\": ["
		}
		if !bytes.HasPrefix(manifest, []byte(want)) {
			t.Errorf("backup_manifest of a %d server begins %q; want %q", f.src.Major, manifest[:min(len(manifest), len(want)+20)], want)
		}
	})

	t.Run("pg_verifybackup accepts the plain backup", func(t *testing.T) {
		args, why := verifybackupArgs(f.src.Major)
		if args == nil {
			t.Skip(why)
		}
		bindir, err := testcluster.ClientBindir()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(filepath.Join(bindir, "pg_verifybackup"), append(args, f.plain)...).CombinedOutput()
		if err != nil {
			t.Fatalf("pg_verifybackup %s: %v\n%s", f.plain, err, out)
		}
		t.Logf("pg_verifybackup %v: %s", args, out)
	})
}

// damage is a damaged backup verify must refuse: spoil makes it and returns the path to verify;
// want starts a line of stdout, or is in stderr.
type damage struct {
	name  string
	spoil func(t *testing.T) string
	want  string
}

// fileDamages spoil the fixture's files, manifest or stream, or give no backup at all.
func fileDamages(f *verifyFixture) []damage {
	return []damage{
		{"flipped byte in a data file", func(t *testing.T) string {
			dir := copyTree(t, f.plain)
			flipByte(t, filepath.Join(dir, f.accounts), 100_000)
			return dir
		}, f.accounts + ": checksum mismatch"},
		{"missing file", func(t *testing.T) string {
			dir := copyTree(t, f.plain)
			if err := os.Remove(filepath.Join(dir, f.branches)); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "missing: " + f.branches},
		{"extra file", func(t *testing.T) string {
			dir := copyTree(t, f.plain)
			if err := os.WriteFile(filepath.Join(dir, "base", "1", "999999"), []byte("stray"), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "extra: base/1/999999"},
		{"truncated stream", func(t *testing.T) string {
			b, err := os.ReadFile(f.gzip)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "cut.gz")
			if err := os.WriteFile(p, b[:len(b)/2], 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, "truncated stream: "},
		{"edited manifest", func(t *testing.T) string {
			dir := copyTree(t, f.plain)
			p := filepath.Join(dir, "backup_manifest")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Claim a different size for a file, as someone hiding a change would.
			edited := bytes.Replace(b, []byte(`"Size": 8192,`), []byte(`"Size": 8193,`), 1)
			if bytes.Equal(edited, b) {
				t.Fatal("no 8192-byte file in the manifest to edit")
			}
			if err := os.WriteFile(p, edited, 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "backup_manifest: manifest checksum mismatch"},
		{"not a backup", func(t *testing.T) string { return f.src.DataDir },
			"is not a pgpull backup: no backup_manifest found"},
	}
}

// walDamages spoil the fixture's WAL; each sets *wantBad to the line it expects once it has found
// the segment it damages.
func walDamages(f *verifyFixture, wantBad *string) []damage {
	return []damage{
		{"missing WAL segment", func(t *testing.T) string {
			dir := copyTree(t, f.plain)
			segs, _ := filepath.Glob(filepath.Join(dir, "pg_wal", strings.Repeat("[0-9A-F]", 24)))
			if len(segs) == 0 {
				t.Fatal("no WAL segment in the plain backup")
			}
			if err := os.Remove(segs[0]); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "missing: pg_wal/"},
		{"WAL zero-filled from a page before the stop LSN", func(t *testing.T) string {
			dir := copyTree(t, f.plain)
			stop, seg := stopSegment(t, dir)
			page := (stop - 1) &^ (pgformat.WALBlockSize - 1)
			zeroFrom(t, filepath.Join(dir, "pg_wal", seg), int64(page)%(16<<20))
			*wantBad = "bad WAL: pg_wal/" + seg + " at " + page.String() + ": the page is zeros"
			return dir
		}, ""},
		{"WAL segment swapped with another", func(t *testing.T) string {
			dir := copyTree(t, f.plain)
			stop, seg := stopSegment(t, dir)
			// The segment after it on the server, which the later backups filled.
			next := (pgformat.LastSegmentBefore(stop, 16<<20) + 1).Name(1, 16<<20)
			other, err := os.ReadFile(filepath.Join(f.src.DataDir, "pg_wal", next))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "pg_wal", seg), other, 0o600); err != nil {
				t.Fatal(err)
			}
			segStart := pgformat.LSN(uint64(pgformat.LastSegmentBefore(stop, 16<<20)) * 16 << 20)
			*wantBad = "bad WAL: pg_wal/" + seg + " at " + segStart.String() + ": page address "
			return dir
		}, ""},
		{"WAL changed past the stop LSN's page", func(t *testing.T) string {
			dir := copyTree(t, f.plain)
			stop, seg := stopSegment(t, dir)
			// pgpull writes zeros after the page that holds the byte before the stop LSN.
			past := (stop-1)&^(pgformat.WALBlockSize-1) + pgformat.WALBlockSize + 100
			if pgformat.LastSegmentBefore(past, 16<<20) != pgformat.LastSegmentBefore(stop, 16<<20) {
				t.Fatalf("stop LSN %s is on the segment's last page: no zeros after it to change", stop)
			}
			flipByte(t, filepath.Join(dir, "pg_wal", seg), int64(past)%(16<<20))
			*wantBad = "bad WAL: pg_wal/" + seg + " at " + past.String() + ": not zero past the WAL page that holds the backup's stop LSN"
			return dir
		}, ""},
	}
}

// verifybackupArgs are the options for the Debian pg_verifybackup (15) on a backup of a server of
// the given major version, or nil and the reason it cannot check such a backup at all.
func verifybackupArgs(major int) ([]string, string) {
	switch {
	case major == 15:
		return []string{}, ""
	case major >= 17:
		return nil, "pg_verifybackup 15 reads manifest version 1 only, and 17 and later write version 2 (pgpull verify checks these)"
	default:
		// It runs pg_waldump 15 on the WAL, which reads only 15's WAL page format.
		return []string{"--no-parse-wal"}, ""
	}
}

// flipByte inverts one byte of a file.
func flipByte(t *testing.T, p string, off int64) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if off >= int64(len(b)) {
		t.Fatalf("%s has %d bytes, cannot flip byte %d", p, len(b), off)
	}
	b[off] ^= 0xFF
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// stopSegment reads the stop LSN from the backup's manifest, and names the segment holding it
// (16 MB segments, timeline 1).
func stopSegment(t *testing.T, dir string) (pgformat.LSN, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "backup_manifest"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"Timeline": 1, "Start-LSN": "[0-9A-F/]+", "End-LSN": "([0-9A-F/]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no WAL range on timeline 1 in the manifest")
	}
	stop, err := pgformat.ParseLSN(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return stop, pgformat.LastSegmentBefore(stop, 16<<20).Name(1, 16<<20)
}
