package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// oddName is the file name PostgreSQL's own pg_basebackup test plants in a data directory: not
// valid UTF-8, in a UTF8 database.
const oddName = "FOO\xe0\xe0\xe0BAR"

// TestBackupOddFileName backs up a cluster holding a file whose name is not valid UTF-8, in
// every output form: the file must come back byte for byte under its raw name, the manifest must
// name it with Encoded-Path, pg_verifybackup and pgpull verify must accept the backup, and the
// restored copy must start. Such a file once failed every backup ("invalid byte sequence for
// encoding").
func TestBackupOddFileName(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	body := []byte("a file with an odd name\n")
	if err := os.WriteFile(filepath.Join(src.DataDir, oddName), body, 0o644); err != nil {
		t.Fatal(err)
	}
	// One in a directory of its own too, so that a name is found below an odd directory.
	nested := filepath.Join(src.DataDir, oddName+"dir")
	if err := os.Mkdir(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nested, oddName), body, 0o644); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	oddPaths := []string{oddName, oddName + "dir/" + oddName}

	t.Run("plain", func(t *testing.T) {
		dest := filepath.Join(base, "plain")
		if code, stderr := pgpull(t, nil, "backup", "-c", "fast", src.DSN(), dest); code != 0 {
			t.Fatalf("pgpull backup failed (%d): %s", code, stderr)
		}
		checkOddFiles(t, dest, oddPaths, body)
		manifest, err := os.ReadFile(filepath.Join(dest, "backup_manifest"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(manifest, []byte(`"Encoded-Path": "464f4fe0e0e0424152"`)) {
			t.Errorf("backup_manifest names %q without Encoded-Path", oddName)
		}
		checkVerifies(t, src.Major, dest)
		testcluster.AdoptForTest(t, dest)
	})

	t.Run("plain, connected to a SQL_ASCII database", func(t *testing.T) {
		// There the server checks no text at all; the names must come through all the same.
		if err := src.Exec(context.Background(), `CREATE DATABASE ascii TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'`); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(base, "plain-ascii")
		dsn := strings.Replace(src.DSN(), "dbname=postgres", "dbname=ascii", 1)
		if code, stderr := pgpull(t, nil, "backup", "-c", "fast", dsn, dest); code != 0 {
			t.Fatalf("pgpull backup failed (%d): %s", code, stderr)
		}
		checkOddFiles(t, dest, oddPaths, body)
		if r := pgpullVerify(t, nil, dest); r.code != 0 {
			t.Errorf("pgpull verify refused the plain backup (%d): %s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("tar stream", func(t *testing.T) {
		tarPath := filepath.Join(base, "base.tar")
		streamBackup(t, tarPath, "-c", "fast", src.DSN())
		names := tarNames(t, tarPath)
		for _, p := range oddPaths {
			if !names[p] {
				t.Errorf("no tar header holds the raw name %q", p)
			}
		}
		if r := pgpullVerify(t, nil, tarPath); r.code != 0 {
			t.Errorf("pgpull verify refused the stream (%d): %s%s", r.code, r.stdout, r.stderr)
		}
		dir := filepath.Join(base, "from-tar")
		extract(t, tarPath, dir)
		checkOddFiles(t, dir, oddPaths, body)
		testcluster.AdoptForTest(t, dir)
	})
}

// checkOddFiles fails t unless each of paths under dir holds body.
func checkOddFiles(t *testing.T, dir string, paths []string, body []byte) {
	t.Helper()
	for _, p := range paths {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%q in the backup: %q, %v; want %q", p, got, err, body)
		}
	}
}

// tarNames is the set of names in a tar file's headers, directories without their slash.
func tarNames(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[hdr.Name] = true
	}
}
