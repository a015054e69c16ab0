package sinks

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pgpull/pgpull/pipeline"
)

// Tar writes the backup as one tar stream, as pg_basebackup -Ft -D - does: every entry, the
// tablespaces' under pg_tblspc/<oid>/, and backup_manifest as the last member.
type Tar struct {
	tw    *tar.Writer
	order fileOrder
	// strip is cut from the front of every member name; TarFiles uses it so that a tablespace's
	// archive names its files relative to pg_tblspc/<oid>/.
	strip    string
	uid, gid int
	// now dates backup_manifest and entries without a ModTime; tests fix it.
	now     func() time.Time
	aborted bool

	// extra holds bytes added at the end of members, by member name (-R's standby settings, as
	// pg_basebackup -R -Ft writes them); a name the stream never carries becomes a member of
	// its own before backup_manifest. due is what the open member still owes.
	extra map[string][]byte
	due   []byte

	// What NewTarStream put between the archive and its writer, which the Tar owns: closed (and
	// flushed) by Close, the compressor closed by Abort too, so its goroutines end either way.
	wrap io.WriteCloser // nil without compression
	buf  *bufio.Writer  // nil without a buffer
}

// NewTar returns a Tar sink writing to w. It never closes w.
func NewTar(w io.Writer) *Tar {
	// Owned by whoever runs pgpull, so that extracting as that user (or as root with
	// --same-owner) gives the files to the account that will run the server.
	uid, gid := os.Getuid(), os.Getgid()
	if uid < 0 || gid < 0 { // not a Unix system
		uid, gid = 0, 0
	}
	return &Tar{tw: tar.NewWriter(w), uid: uid, gid: gid, now: time.Now}
}

// TarStreamOptions say what goes between a tar stream and its writer.
type TarStreamOptions struct {
	// Wrap, when set, compresses the stream; closing what it returns must flush it without
	// closing the writer under it.
	Wrap func(io.Writer) (io.WriteCloser, error)
	// Buffer is the size of a write buffer in front of the writer (backup.Tuning.StreamBuffer);
	// none when zero.
	Buffer int
	// Append adds bytes at the end of members, by name; see Tar.Append.
	Append map[string][]byte
}

// NewTarStream returns a Tar sink writing to w through a buffer and a compressor, both of which
// it owns: Close finishes and flushes them, Abort closes the compressor. It never closes w.
func NewTarStream(w io.Writer, opts TarStreamOptions) (*Tar, error) {
	var buf *bufio.Writer
	if opts.Buffer > 0 {
		buf = bufio.NewWriterSize(w, opts.Buffer)
		w = buf
	}
	var wrap io.WriteCloser
	if opts.Wrap != nil {
		var err error
		if wrap, err = opts.Wrap(w); err != nil {
			return nil, err
		}
		w = wrap
	}
	t := NewTar(w)
	t.wrap, t.buf = wrap, buf
	t.Append(opts.Append)
	return t, nil
}

// Append makes the archive carry extra bytes at the end of the members named by extra's keys
// (names as in the archive), and members of their own for names the stream does not carry.
// The manifest still describes the server's files; pg_verifybackup and pgpull verify skip
// the two files -R changes, postgresql.auto.conf and standby.signal, for that reason.
func (t *Tar) Append(extra map[string][]byte) {
	for name, b := range extra {
		if t.extra == nil {
			t.extra = map[string][]byte{}
		}
		t.extra[name] = append(t.extra[name], b...)
	}
}

// Put writes p: the member's header on the File's first Piece, then the Piece's bytes straight
// to the stream.
func (t *Tar) Put(_ context.Context, p *pipeline.Piece) error {
	defer p.Done()
	if t.aborted {
		return errors.New("writing the tar stream: put after abort")
	}
	action, err := t.order.classify(p)
	if err != nil {
		return fmt.Errorf("writing the tar stream: %w", err)
	}
	switch action {
	case dropPiece:
		return nil
	case openFile:
		f := p.File
		if err := t.writeHeader(f); err != nil {
			return err
		}
		if f.Content != nil {
			if _, err := t.tw.Write(f.Content); err != nil {
				return fmt.Errorf("writing the tar stream: %s: %w", f.Path, err)
			}
			t.order.completed(f)
			return t.writeDue(f)
		}
	}
	if err := writePiece(t.tw, p); err != nil {
		return fmt.Errorf("writing the tar stream: %s at offset %d: %w", p.File.Path, p.Offset, err)
	}
	if t.order.written(p) {
		return t.writeDue(p.File)
	}
	return nil
}

// writeDue ends member f with the bytes Append gave for it, if any.
func (t *Tar) writeDue(f *pipeline.File) error {
	if len(t.due) == 0 {
		return nil
	}
	due := t.due
	t.due = nil
	if _, err := t.tw.Write(due); err != nil {
		return fmt.Errorf("writing the tar stream: %s: %w", f.Path, err)
	}
	return nil
}

func (t *Tar) writeHeader(f *pipeline.File) error {
	if err := checkPath(f.Path); err != nil {
		return fmt.Errorf("writing the tar stream: %w", err)
	}
	name, ok := strings.CutPrefix(f.Path, t.strip)
	if !ok || name == "" {
		return fmt.Errorf("writing the tar stream: %q does not belong under %q", f.Path, t.strip)
	}
	mtime := f.ModTime
	if mtime.IsZero() {
		mtime = t.now()
	}
	due, appends := t.extra[name]
	if appends && !f.Dir {
		delete(t.extra, name)
		t.due = due
	}
	// Format is left unset: archive/tar then writes plain USTAR and adds PAX records only for
	// what USTAR cannot hold (long names, sizes of 8 GiB and more), and rounds ModTime to seconds.
	h := &tar.Header{Name: name, ModTime: mtime, Uid: t.uid, Gid: t.gid}
	switch {
	case f.Dir:
		h.Typeflag, h.Name, h.Mode = tar.TypeDir, name+"/", 0o700
	case f.Content != nil:
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o600, int64(len(f.Content)+len(t.due))
	default:
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o600, f.Size+int64(len(t.due))
	}
	if !utf8.ValidString(h.Name) {
		// archive/tar writes such a name only into a PAX record, whose paths readers take for
		// UTF-8, leaving a mangled name in the header proper; GNU's header holds its bytes as
		// they are, as pg_basebackup's tar header does.
		h.Format, h.ModTime = tar.FormatGNU, mtime.Round(time.Second)
	}
	if err := t.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("writing the tar stream: %s: %w", f.Path, err)
	}
	return nil
}

// Close writes manifest, when not nil, as backup_manifest, then the two zero blocks that end
// the archive. It does not close the underlying writer.
func (t *Tar) Close(_ context.Context, manifest []byte) error {
	if t.aborted {
		return errors.New("writing the tar stream: close after abort")
	}
	if err := t.order.unfinished(); err != nil {
		return fmt.Errorf("writing the tar stream: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(t.extra)) {
		if err := t.writeMember(name, t.extra[name]); err != nil {
			return err
		}
	}
	t.extra = nil
	if manifest != nil {
		if err := t.writeMember(manifestName, manifest); err != nil {
			return err
		}
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("writing the tar stream: %w", err)
	}
	if t.wrap != nil {
		if err := t.wrap.Close(); err != nil {
			return fmt.Errorf("writing the tar stream: %w", err)
		}
	}
	if t.buf != nil {
		if err := t.buf.Flush(); err != nil {
			return fmt.Errorf("writing the tar stream: %w", err)
		}
	}
	return nil
}

// writeMember writes a member of its own holding b.
func (t *Tar) writeMember(name string, b []byte) error {
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600,
		Size: int64(len(b)), ModTime: t.now(), Uid: t.uid, Gid: t.gid}
	if err := t.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("writing the tar stream: %s: %w", name, err)
	}
	if _, err := t.tw.Write(b); err != nil {
		return fmt.Errorf("writing the tar stream: %s: %w", name, err)
	}
	return nil
}

// Abort leaves the stream cut where it is. It writes no end blocks, so tar readers report the
// archive as truncated instead of taking it for a complete backup. A compressor it owns is closed,
// so that none of its goroutines outlive the run.
func (t *Tar) Abort() error {
	t.aborted = true
	if t.wrap != nil {
		_ = t.wrap.Close() // its error says the stream broke, which the caller already knows
	}
	return nil
}
