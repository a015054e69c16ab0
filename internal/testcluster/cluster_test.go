package testcluster

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestClusterLifecycle(t *testing.T) {
	ctx := t.Context()
	c := ForTest(t, Options{Checksums: true, Conf: []string{"wal_keep_size = 0"}, WALSegSizeMB: 32})
	if len(c.SocketDir)+len("/.s.PGSQL.65535") >= 107 {
		t.Errorf("socket dir %q too long for a unix socket path", c.SocketDir)
	}

	for _, args := range [][]string{
		{"-i", "-s", "1", "-q"},
		{"-c", "4", "-j", "2", "-T", "3", "-n"},
	} {
		if out, err := c.Pgbench(ctx, args...).CombinedOutput(); err != nil {
			t.Fatalf("pgbench %v: %v\n%s", args, err, out)
		}
	}
	if err := c.CheckTPCB(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := c.QueryInt(ctx, "SELECT count(*) FROM pgbench_history")
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("pgbench run left no history rows")
	}

	for setting, want := range map[string]string{
		"data_checksums":   "on",
		"wal_keep_size":    "0",
		"wal_segment_size": "32MB",
		"listen_addresses": "127.0.0.1",
		"fsync":            "off",
	} {
		got, err := c.QueryString(ctx, "SHOW "+setting)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("SHOW %s = %q, want %q", setting, got, want)
		}
	}

	// TCP must work too: fault tests put a proxy in front of it.
	conn, err := pgx.Connect(ctx, c.TCPDSN())
	if err != nil {
		t.Fatalf("connect over TCP: %v", err)
	}
	conn.Close(ctx)

	if err := c.Amcheck(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Running(ctx) {
		t.Error("server still running after Stop")
	}
	if err := c.VerifyChecksums(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestAdoptNextToSource copies a cluster through ExtractTar into a
// t.TempDir() (0700 root-owned parents when root) with a stale
// postmaster.pid, then runs the copy while the source still runs, as an
// end-to-end restore test would.
func TestAdoptNextToSource(t *testing.T) {
	ctx := t.Context()
	src := ForTest(t, Options{Checksums: true})
	if out, err := src.Pgbench(ctx, "-i", "-s", "1", "-q").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	if out, err := src.Pgbench(ctx, "-t", "50", "-n").CombinedOutput(); err != nil {
		t.Fatalf("pgbench: %v\n%s", err, out)
	}
	// A clean shutdown makes the file copy consistent without WAL replay.
	if err := src.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeTar(&buf, src.DataDir); err != nil {
		t.Fatal(err)
	}
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}

	restore := filepath.Join(t.TempDir(), "restore")
	if err := ExtractTar(&buf, restore); err != nil {
		t.Fatal(err)
	}
	srcPid, err := os.ReadFile(filepath.Join(src.DataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restore, "postmaster.pid"), srcPid, 0o600); err != nil {
		t.Fatal(err)
	}

	dst := AdoptForTest(t, restore)
	if dst.Port == src.Port || dst.SocketDir == src.SocketDir {
		t.Fatalf("restored cluster collides with source: port %d/%d, socket %s/%s", dst.Port, src.Port, dst.SocketDir, src.SocketDir)
	}
	if err := dst.CheckTPCB(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dst.Amcheck(ctx); err != nil {
		t.Fatal(err)
	}
	if !src.Running(ctx) {
		t.Fatal("source stopped while the restored copy ran")
	}

	// A broken invariant must be reported with all four sums.
	if err := dst.Exec(ctx, "UPDATE pgbench_branches SET bbalance = bbalance + 7"); err != nil {
		t.Fatal(err)
	}
	err = dst.CheckTPCB(ctx)
	if err == nil || !strings.Contains(err.Error(), "pgbench_history.delta") {
		t.Fatalf("CheckTPCB after corrupting branches = %v, want an error naming the sums", err)
	}
}

// writeTar archives dir the way a backup tar holds it: relative names,
// symlinks as links.
func writeTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func TestExtractTar(t *testing.T) {
	type entry struct {
		name, link string
		typ        byte
		mode       int64
		body       string
	}
	file := func(name, body string) entry { return entry{name: name, typ: tar.TypeReg, mode: 0o644, body: body} }
	dir := func(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o700} }
	symlink := func(name, target string) entry {
		return entry{name: name, link: target, typ: tar.TypeSymlink, mode: 0o777}
	}
	hardlink := func(name, target string) entry {
		return entry{name: name, link: target, typ: tar.TypeLink, mode: 0o644}
	}

	tests := []struct {
		name    string
		entries []entry
		wantErr string            // substring; "" = success
		files   map[string]string // relative path -> content
		links   map[string]string // relative path -> symlink target
	}{{
		name:    "files and dirs",
		entries: []entry{dir("base/"), file("base/1/1259", "heap"), file("./PG_VERSION", "15\n"), hardlink("global/copy", "PG_VERSION")},
		files:   map[string]string{"base/1/1259": "heap", "PG_VERSION": "15\n", "global/copy": "15\n"},
	}, {
		name:    "symlink preserved verbatim, even outside dir",
		entries: []entry{dir("pg_tblspc/"), symlink("pg_tblspc/16384", "/srv/tblspc/ts1"), symlink("rel", "base/1")},
		links:   map[string]string{"pg_tblspc/16384": "/srv/tblspc/ts1", "rel": "base/1"},
	}, {
		name:    "dotdot escape refused",
		entries: []entry{file("../evil", "x")},
		wantErr: "escapes",
	}, {
		name:    "nested dotdot escape refused",
		entries: []entry{file("base/../../evil", "x")},
		wantErr: "escapes",
	}, {
		name:    "absolute path refused",
		entries: []entry{file("/tmp/evil", "x")},
		wantErr: "escapes",
	}, {
		name:    "write through escaping symlink refused",
		entries: []entry{symlink("out", ".."), file("out/evil", "x")},
		wantErr: "out/evil",
	}, {
		name:    "write through absolute symlink refused",
		entries: []entry{symlink("pg_tblspc", "/tmp"), file("pg_tblspc/evil", "x")},
		wantErr: "pg_tblspc/evil",
	}, {
		name:    "hard link escape refused",
		entries: []entry{hardlink("passwd", "../../etc/passwd")},
		wantErr: "escapes",
	}, {
		name:    "device refused",
		entries: []entry{{name: "dev", typ: tar.TypeChar, mode: 0o600}},
		wantErr: "unsupported",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, e := range tt.entries {
				hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body))}
				if err := tw.WriteHeader(hdr); err != nil {
					t.Fatal(err)
				}
				if _, err := tw.Write([]byte(e.body)); err != nil {
					t.Fatal(err)
				}
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			parent := t.TempDir()
			dir := filepath.Join(parent, "x")
			err := ExtractTar(&buf, dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ExtractTar error = %v, want one containing %q", err, tt.wantErr)
				}
				for _, p := range []string{filepath.Join(parent, "evil"), filepath.Join(parent, "passwd")} {
					if _, err := os.Lstat(p); err == nil {
						t.Errorf("%s was written outside the extraction dir", p)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(dir); err != nil {
				t.Error(err)
			} else if fi.Mode().Perm() != 0o700 {
				t.Errorf("extraction dir mode %v, want 0700", fi.Mode().Perm())
			}
			for name, want := range tt.files {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", name, got, err, want)
				}
			}
			for name, want := range tt.links {
				got, err := os.Readlink(filepath.Join(dir, name))
				if err != nil || got != want {
					t.Errorf("link %s -> %q, %v; want -> %q", name, got, err, want)
				}
			}
		})
	}
}

// TestBinaries checks that the cluster runs the major version PGPULL_PG_BIN names (or the Debian
// one), that Options.Checksums is obeyed both ways (18's initdb turns checksums on by default),
// and that a wrong PGPULL_PG_BIN fails naming the command that fetches the binaries.
func TestBinaries(t *testing.T) {
	ctx := t.Context()
	b, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if !hasServerBinaries(b.Server) {
		t.Fatalf("server binaries %s lack initdb/pg_ctl/postgres", b.Server)
	}
	c := ForTest(t, Options{Checksums: false})
	num, err := c.QueryInt(ctx, `SELECT current_setting('server_version_num')::int`)
	if err != nil {
		t.Fatal(err)
	}
	if int(num/10000) != b.Major || c.Major != b.Major {
		t.Errorf("server_version_num %d; want major %d (cluster says %d)", num, b.Major, c.Major)
	}
	if got, err := c.QueryString(ctx, "SHOW data_checksums"); err != nil || got != "off" {
		t.Errorf("Options{Checksums: false}: data_checksums %q, %v; want off", got, err)
	}
	t.Setenv(BinEnv, t.TempDir())
	if _, err := FindBinaries(); err == nil || !strings.Contains(err.Error(), ".ci/pg-majors") {
		t.Errorf("%s naming an empty directory: %v; want an error naming .ci/pg-majors", BinEnv, err)
	}
}
