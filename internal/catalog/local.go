package catalog

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/manifest"
)

// Options say how much List reads.
type Options struct {
	// ReadStreams reads a compressed archive, or an object in S3, whole when what List needs is
	// inside it: a compressed stream's backup_manifest (its last member), the backup_label in a
	// compressed base.tar. Without it such a backup is listed with a note.
	ReadStreams bool
}

// streamSuffixes name the files a tar stream backup is kept in.
var streamSuffixes = []string{".tar", ".tar.gz", ".tar.zst", ".tar.lz4"}

// ListDir lists what path holds: the backup it is, or the backups and WAL archives in it and in
// the directories directly under it.
func ListDir(ctx context.Context, path string, opts Options) (*Listing, error) {
	l := &Listing{}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		l.Backups = append(l.Backups, describeStreamFile(path, opts))
		l.link()
		return l, nil
	}
	if !l.addDir(path, opts) {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			p := filepath.Join(path, e.Name())
			switch {
			case e.IsDir():
				l.addDir(p, opts)
			case e.Type().IsRegular() && hasStreamSuffix(e.Name()):
				l.Backups = append(l.Backups, describeStreamFile(p, opts))
			}
		}
	}
	l.link()
	return l, nil
}

func hasStreamSuffix(name string) bool {
	for _, s := range streamSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// addDir adds dir when it is a backup or a WAL archive, and says whether it was either.
func (l *Listing) addDir(dir string, opts Options) bool {
	if _, err := os.Stat(filepath.Join(dir, "backup_manifest")); err == nil {
		l.Backups = append(l.Backups, describeDir(dir, opts))
		return true
	}
	if a, ok := readWALDir(dir); ok {
		l.Archives = append(l.Archives, a)
		return true
	}
	return false
}

// describeDir describes a plain backup or a -F tar directory.
func describeDir(dir string, opts Options) Backup {
	b := Backup{Location: dir, Form: "plain"}
	raw, err := os.ReadFile(filepath.Join(dir, "backup_manifest"))
	if err != nil {
		b.Note = err.Error()
		return b
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		b.Note = "backup_manifest: " + err.Error()
		return b
	}
	describe(&b, m)
	if label, err := os.ReadFile(filepath.Join(dir, "backup_label")); err == nil {
		readLabel(&b, label)
		return b
	}
	for _, name := range []string{"base.tar", "base.tar.gz", "base.tar.zst", "base.tar.lz4"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			b.Form = "tar files"
			archiveLabel(&b, filepath.Join(dir, name), opts)
			return b
		}
	}
	b.Note = "no backup_label"
	return b
}

// archiveLabel reads backup_label out of base.tar: cheaply when uncompressed, else only when
// asked to.
func archiveLabel(b *Backup, p string, opts Options) {
	r, alg, closeAll, err := openArchive(p, opts)
	if err != nil {
		b.Note = err.Error()
		return
	}
	defer closeAll()
	if r == nil {
		b.Note = fmt.Sprintf("its backup_label is inside %s (%s): --read-streams reads it", filepath.Base(p), alg)
		return
	}
	label, _, err := tarLabel(r)
	if err != nil {
		b.Note = filepath.Base(p) + ": " + err.Error()
		return
	}
	readLabel(b, label)
}

// openArchive opens a tar archive as a file when it is not compressed (so that the tar reader
// skips members by seeking), decompressed when opts allow, else not at all (nil reader).
func openArchive(p string, opts Options) (io.Reader, compress.Algorithm, func(), error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, compress.None, nil, err
	}
	zr, alg, err := compress.NewReader(f)
	if err != nil {
		f.Close()
		return nil, alg, nil, err
	}
	if alg == compress.None {
		zr.Close()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, alg, nil, err
		}
		return f, alg, func() { f.Close() }, nil
	}
	if !opts.ReadStreams {
		zr.Close()
		f.Close()
		return nil, alg, func() {}, nil
	}
	return zr, alg, func() { zr.Close(); f.Close() }, nil
}

// describeStreamFile describes a tar stream kept in a file.
func describeStreamFile(p string, opts Options) Backup {
	b := Backup{Location: p, Form: "stream"}
	r, alg, closeAll, err := openArchive(p, opts)
	if err != nil {
		b.Note = err.Error()
		return b
	}
	defer closeAll()
	if alg != compress.None {
		b.Form += " (" + alg.String() + ")"
	}
	if r == nil {
		if fi, err := os.Stat(p); err == nil {
			b.Bytes = fi.Size()
		}
		b.Note = "its backup_manifest is the stream's last member: --read-streams reads the stream to it"
		return b
	}
	streamContents(&b, r)
	return b
}

// streamContents fills b from a tar stream's backup_label and backup_manifest.
func streamContents(b *Backup, r io.Reader) {
	label, raw, err := tarLabel(r)
	if raw == nil {
		b.Note = "no backup_manifest at the stream's end"
		if err != nil {
			b.Note += ": " + err.Error()
		}
		return
	}
	m, perr := manifest.Parse(raw)
	if perr != nil {
		b.Note = "backup_manifest: " + perr.Error()
		return
	}
	describe(b, m)
	if label != nil {
		readLabel(b, label)
	}
}
