package backupcheck

import (
	"archive/tar"
	"fmt"
	"io"

	"github.com/pgpull/pgpull/internal/manifest"
)

// Copier receives a backup as a Checker reads it, so that a restore reads every byte once and
// checks it against the manifest on the way (pgpull restore). Paths are the backup's, as the
// manifest names them: a -F tar archive's members under its prefix (pg_tblspc/<oid>/...), a plain
// backup's tablespaces under their pg_tblspc/<oid> links. They come from the backup unchecked: a
// member named "../x" or "/etc/x" reaches the Copier as it is, to be refused there.
//
// Whether what was copied is the backup is known only from the Report: a Copier keeps what it
// wrote unusable until then.
type Copier interface {
	// Manifest is called with the backup's backup_manifest once it parses: before any file for a
	// plain backup and -F tar archives, after the last one for a stream, which carries it last.
	Manifest(raw []byte, m *manifest.Parsed) error
	// Dir is called for each directory: a tar member, or one a plain backup's walk finds, each
	// before what it holds.
	Dir(p string) error
	// Link is called for each symbolic link member of a tar archive, with its target.
	Link(p, target string) error
	// File returns where the bytes of regular file p, size bytes long by the archive or the
	// directory, go; it is closed after the last of them, or when the backup's copy ends early.
	// For a plain backup it is called from several goroutines at once.
	File(p string, size int64) (io.WriteCloser, error)
}

// copyFailed is an error of the Copier's, which stops the check: unlike a problem of the
// backup's, nothing more can be learnt by reading on.
type copyFailed struct{ err error }

func (c copyFailed) Error() string { return c.err.Error() }
func (c copyFailed) Unwrap() error { return c.err }

// copyWriter passes bytes to a Copier's file and keeps its error apart from the source's.
type copyWriter struct {
	w   io.Writer
	err error
}

func (c *copyWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	c.err = err
	return n, err
}

// copyMember hands a tar member that is not a regular file to the Copier.
func (c Checker) copyMember(p string, hdr *tar.Header) error {
	if c.Copy == nil {
		return nil
	}
	var err error
	switch hdr.Typeflag {
	case tar.TypeDir:
		err = c.Copy.Dir(p)
	case tar.TypeSymlink:
		err = c.Copy.Link(p, hdr.Linkname)
	case tar.TypeXGlobalHeader:
		return nil // archive/tar has applied it
	default:
		err = fmt.Errorf("%s: a tar member of type %q, which no backup holds", displayPath(p), hdr.Typeflag)
	}
	if err != nil {
		return copyFailed{err}
	}
	return nil
}

// copyManifest hands the parsed manifest to the Copier.
func (c Checker) copyManifest(raw []byte, m *manifest.Parsed) error {
	if c.Copy == nil {
		return nil
	}
	if err := c.Copy.Manifest(raw, m); err != nil {
		return copyFailed{err}
	}
	return nil
}

// copyTarget opens the Copier's file for p, nil without a Copier.
func (c Checker) copyTarget(p string, size int64) (io.WriteCloser, error) {
	if c.Copy == nil {
		return nil, nil
	}
	w, err := c.Copy.File(p, size)
	if err != nil {
		return nil, copyFailed{err}
	}
	return w, nil
}

// memberPath is where a member named rel (cleaned, "./" cut) of an archive whose members go under
// prefix lies in the backup. Unlike path.Join it cleans nothing more, so that a name that climbs
// out stays visible.
func memberPath(prefix, rel string) string {
	if rel != "." {
		return prefix + rel
	}
	if prefix == "" {
		return "."
	}
	return prefix[:len(prefix)-1]
}
