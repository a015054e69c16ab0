package backupcheck

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/manifest"
)

// recordingCopier keeps what a Checker hands it.
type recordingCopier struct {
	mu       sync.Mutex
	manifest []byte
	files    map[string][]byte
	dirs     []string
	links    map[string]string
	failOn   string // a path whose File fails to write
}

func newRecordingCopier() *recordingCopier {
	return &recordingCopier{files: map[string][]byte{}, links: map[string]string{}}
}

func (r *recordingCopier) Manifest(raw []byte, _ *manifest.Parsed) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.manifest = raw
	return nil
}

func (r *recordingCopier) Dir(p string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dirs = append(r.dirs, p)
	return nil
}

func (r *recordingCopier) Link(p, target string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.links[p] = target
	return nil
}

func (r *recordingCopier) File(p string, size int64) (io.WriteCloser, error) {
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, "..") {
		return nil, errors.New("refusing " + p)
	}
	return &recordedFile{r: r, p: p, fail: p == r.failOn}, nil
}

type recordedFile struct {
	r    *recordingCopier
	p    string
	buf  bytes.Buffer
	fail bool
}

func (f *recordedFile) Write(b []byte) (int, error) {
	if f.fail {
		return 0, errors.New("disk full")
	}
	return f.buf.Write(b)
}

func (f *recordedFile) Close() error {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	f.r.files[f.p] = f.buf.Bytes()
	return nil
}

// TestCopierGetsEveryFile: whatever the form, the Copier receives every file of the backup with
// its bytes, the manifest, and the directories holding the files; the report is whole.
func TestCopierGetsEveryFile(t *testing.T) {
	b := newTestBackup(t, manifest.CRC32C)
	for _, f := range forms() {
		t.Run(f.name, func(t *testing.T) {
			rec := newRecordingCopier()
			c := testChecker
			c.Copy = rec
			rep, err := c.VerifyPath(context.Background(), f.write(t, b))
			if err != nil {
				t.Fatal(err)
			}
			wantProblems(t, rep, nil)
			if !bytes.Equal(rec.manifest, b.manifest) {
				t.Errorf("the Copier got a manifest of %d bytes, want the backup's %d", len(rec.manifest), len(b.manifest))
			}
			if got, want := slices.Sorted(maps.Keys(rec.files)), slices.Sorted(maps.Keys(b.files)); !slices.Equal(got, want) {
				t.Fatalf("files copied: %v\nwant %v", got, want)
			}
			for p, body := range b.files {
				if !bytes.Equal(rec.files[p], body) {
					t.Errorf("%s: %d bytes copied, want the backup's %d", p, len(rec.files[p]), len(body))
				}
			}
			for _, d := range []string{"base/1", "pg_tblspc/16384/PG_15_202209061"} {
				if !slices.Contains(rec.dirs, d) {
					t.Errorf("directory %s not handed to the Copier: got %v", d, rec.dirs)
				}
			}
		})
	}
}

// TestCopierRefusals: a member the Copier refuses, a link, a device, and a failing write each
// stop the check with the Copier's error, not a problem of the backup's.
func TestCopierRefusals(t *testing.T) {
	tests := []struct {
		name    string
		members []*tar.Header
		failOn  string
		want    string
	}{
		{"climbing name", []*tar.Header{{Typeflag: tar.TypeReg, Name: "base/../../x", Size: 1}}, "", "refusing ../x"},
		{"absolute name", []*tar.Header{{Typeflag: tar.TypeReg, Name: "/etc/x", Size: 1}}, "", "refusing /etc/x"},
		{"device", []*tar.Header{{Typeflag: tar.TypeChar, Name: "dev"}}, "", `a tar member of type '3'`},
		{"failing write", []*tar.Header{{Typeflag: tar.TypeReg, Name: "PG_VERSION", Size: 3}}, "PG_VERSION", "disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range tt.members {
				h.Mode = 0o600
				must(t, tw.WriteHeader(h))
				_, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
				must(t, err)
			}
			must(t, tw.Close())
			rec := newRecordingCopier()
			rec.failOn = tt.failOn
			c := testChecker
			c.Copy = rec
			_, err := c.VerifyStream(context.Background(), &buf, "test")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestCopierReadsStreamOnce: a stream whose manifest uses SHA512 is not read a second time when
// copied (the copy would be made twice); its files are reported unchecked instead.
func TestCopierReadsStreamOnce(t *testing.T) {
	b := newTestBackup(t, manifest.SHA512)
	rec := newRecordingCopier()
	c := testChecker
	c.Copy = rec
	r := bytes.NewReader(tarBytes(t, b.files, b.manifest, compress.Spec{}))
	rep, err := c.VerifyStream(context.Background(), r, "test")
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep, []string{"unchecked: 6 files have SHA512 checksums"})
}
