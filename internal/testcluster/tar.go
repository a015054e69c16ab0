package testcluster

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ExtractTar extracts a plain (uncompressed) tar stream into dir, creating
// dir 0700 if needed, so a backup can be restored and started. Symlinks are
// recreated verbatim, since pg_tblspc links point at absolute tablespace
// paths outside the data directory. Entries whose names would land outside
// dir — absolute, "..", or through a symlink extracted earlier — are refused
// with an error, as are hard links to such places and device/fifo entries,
// which a backup never holds.
func ExtractTar(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// os.Root confines every operation below to dir, including through
	// symlinks that earlier entries created.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract into %s: %w", dir, err)
		}
		if err := extractEntry(root, tr, hdr); err != nil {
			return fmt.Errorf("extract %q into %s: %w", hdr.Name, dir, err)
		}
	}
}

func extractEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := localName(hdr.Name)
	if err != nil {
		return err
	}
	perm := hdr.FileInfo().Mode().Perm()
	if name == "." {
		if hdr.Typeflag == tar.TypeDir {
			return nil
		}
		return errors.New("entry names the extraction directory itself")
	}
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return root.Chmod(name, perm)
	case tar.TypeReg:
		// Replace, never write through, whatever was there (a symlink
		// from an earlier entry would otherwise redirect the write).
		if err := removeNonDir(root, name); err != nil {
			return err
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if err == nil {
			err = f.Chmod(perm)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case tar.TypeSymlink:
		if err := removeNonDir(root, name); err != nil {
			return err
		}
		return root.Symlink(hdr.Linkname, name)
	case tar.TypeLink:
		target, err := localName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		if err := removeNonDir(root, name); err != nil {
			return err
		}
		return root.Link(target, name)
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
}

// localName cleans a tar member name and refuses ones that leave the
// extraction directory lexically; os.Root catches escapes via symlinks.
func localName(name string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if clean == "." {
		return clean, nil
	}
	if !filepath.IsLocal(clean) {
		return "", fmt.Errorf("refusing path %q: it escapes the extraction directory", name)
	}
	return clean, nil
}

// removeNonDir removes name unless it is missing; a directory is left for the
// following create to fail on, as replacing a whole tree is never intended.
func removeNonDir(root *os.Root, name string) error {
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s exists as a directory", name)
	}
	return root.Remove(name)
}
