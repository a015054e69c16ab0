package sinks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/pgpull/pgpull/pipeline"
)

// TarFilesOptions configure a TarFiles sink.
type TarFilesOptions struct {
	// Force allows a directory that is not empty when it holds an earlier backup, which is
	// removed when the first Piece arrives, backup_manifest first.
	Force bool
	// NoSync skips every fsync.
	NoSync bool
	// Ext is appended to each archive's name: ".gz" gives base.tar.gz.
	Ext string
	// Wrap, when set, is put between each archive and its file, to compress it. Closing what it
	// returns must flush it without closing the file.
	Wrap func(io.Writer) (io.WriteCloser, error)
	// Buffer is the size of each archive's write buffer (backup.Tuning.TarFileBuffer); bufio's
	// default when zero.
	Buffer int
	// Append adds bytes at the end of base.tar's members, by name; see Tar.Append.
	Append map[string][]byte
}

// TarFiles writes pg_basebackup -Ft's layout into a directory: base.tar with the main data
// directory, <oid>.tar per tablespace with names relative to pg_tblspc/<oid>/, and
// backup_manifest beside them. The pg_tblspc/<oid> entries are left out: tablespace_map, an
// ordinary file of the stream, tells recovery where each tablespace goes.
type TarFiles struct {
	opts     TarFilesOptions
	dir      *area
	archives map[string]*tarFile // by tablespace OID, "" for base.tar
	earlier  pendingRemoval      // an earlier backup to replace (-f)
	done     bool                // closed or aborted
}

// tarFile is one archive being written: the file, a buffer, the compressor on it, the tar stream.
type tarFile struct {
	file *os.File
	wrap io.WriteCloser // nil without compression
	buf  *bufio.Writer
	tar  *Tar
}

// NewTarFiles makes dir unless it exists; it must be absent or empty, or hold an earlier backup
// when opts.Force is set.
func NewTarFiles(dir string, opts TarFilesOptions) (*TarFiles, error) {
	replace, err := checkDestination(dir, opts.Force)
	if err != nil {
		return nil, err
	}
	a, err := openArea(dir, 0o700)
	if err != nil {
		return nil, fmt.Errorf("destination directory: %w", err)
	}
	return &TarFiles{opts: opts, dir: a, archives: map[string]*tarFile{},
		earlier: pendingRemoval{area: a, fsync: !opts.NoSync, pending: replace}}, nil
}

// Put writes p to the archive of its File's tablespace, opening that archive on first use.
func (t *TarFiles) Put(ctx context.Context, p *pipeline.Piece) error {
	if t.done {
		p.Done()
		return errors.New("writing the tar files: put after close or abort")
	}
	if err := t.earlier.clear(); err != nil {
		p.Done()
		return fmt.Errorf("writing the tar files: %w", err)
	}
	oid := p.File.Tablespace
	if oid != "" && p.File.Path == "pg_tblspc/"+oid {
		p.Done()
		return nil
	}
	a, err := t.archive(oid)
	if err != nil {
		p.Done()
		return err
	}
	return a.tar.Put(ctx, p)
}

// archive returns the archive of tablespace oid ("" for base.tar), opening it on first use.
func (t *TarFiles) archive(oid string) (*tarFile, error) {
	if a := t.archives[oid]; a != nil {
		return a, nil
	}
	name, strip, err := archiveName(oid)
	if err != nil {
		return nil, fmt.Errorf("writing the tar files: %w", err)
	}
	name += t.opts.Ext
	f, err := t.dir.create(name, 0o600)
	if err != nil {
		return nil, fmt.Errorf("writing the tar files: %w", err)
	}
	// Without a buffer each member costs three write calls, header, body and padding.
	a := &tarFile{file: f, buf: bufio.NewWriterSize(f, t.opts.Buffer)}
	var w io.Writer = a.buf
	if t.opts.Wrap != nil {
		if a.wrap, err = t.opts.Wrap(a.buf); err != nil {
			f.Close()
			return nil, fmt.Errorf("writing the tar files: %s: %w", name, err)
		}
		w = a.wrap
	}
	a.tar = newArchiveTar(w, oid, strip, t.opts.Append)
	t.archives[oid] = a
	return a, nil
}

// archiveName is pg_basebackup -Ft's name for tablespace oid's archive ("" for base.tar), and
// the prefix its members' names drop.
func archiveName(oid string) (name, strip string, err error) {
	if oid == "" {
		return "base.tar", "", nil
	}
	if err := checkOID(oid); err != nil {
		return "", "", fmt.Errorf("tablespace: %w", err)
	}
	return oid + ".tar", "pg_tblspc/" + oid + "/", nil
}

// newArchiveTar makes the Tar of one archive: names relative to strip, and -R's additions
// (appendTo) in base.tar only.
func newArchiveTar(w io.Writer, oid, strip string, appendTo map[string][]byte) *Tar {
	t := NewTar(w)
	t.strip = strip
	if oid == "" {
		t.Append(appendTo)
	}
	return t
}

// Close ends every archive (base.tar even when empty), then writes manifest, when not nil, as
// backup_manifest beside them, so a manifest is there only when the archives are complete.
func (t *TarFiles) Close(_ context.Context, manifest []byte) error {
	if t.done {
		return errors.New("writing the tar files: close after close or abort")
	}
	if err := t.earlier.clear(); err != nil {
		return fmt.Errorf("writing the tar files: %w", err)
	}
	if _, err := t.archive(""); err != nil {
		return err
	}
	for _, oid := range slices.Sorted(maps.Keys(t.archives)) {
		if err := t.finish(t.archives[oid]); err != nil {
			return fmt.Errorf("writing the tar files: %w", err)
		}
		delete(t.archives, oid)
	}
	if manifest != nil {
		if err := t.writeManifest(manifest); err != nil {
			return fmt.Errorf("writing the tar files: %w", err)
		}
	}
	if !t.opts.NoSync {
		if err := t.dir.syncDirs(); err != nil {
			return fmt.Errorf("writing the tar files: %w", err)
		}
	}
	t.done = true
	return t.dir.close()
}

func (t *TarFiles) finish(a *tarFile) error {
	err := a.tar.Close(context.Background(), nil) // a local file: nothing to wait on
	if a.wrap != nil && err == nil {
		err = a.wrap.Close()
	}
	if err == nil {
		err = a.buf.Flush()
	}
	if !t.opts.NoSync && err == nil {
		err = a.file.Sync()
	}
	if cerr := a.file.Close(); err == nil {
		err = cerr
	}
	return err
}

func (t *TarFiles) writeManifest(manifest []byte) error {
	f, err := t.dir.create(manifestName, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(manifest)
	if !t.opts.NoSync && err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Abort closes the archives as they are and removes the files it made (and dir, if it made it).
func (t *TarFiles) Abort() error {
	if t.done {
		return nil
	}
	t.done = true
	for _, a := range t.archives {
		a.tar.Abort()
		if a.wrap != nil {
			a.wrap.Close() // stops a compressor's goroutines; the tar inside stays unterminated
		}
		a.file.Close()
	}
	if err := t.dir.rollback(); err != nil {
		return fmt.Errorf("writing the tar files: abort: %w", err)
	}
	return nil
}
