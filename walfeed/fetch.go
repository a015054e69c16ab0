package walfeed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/s3store"
)

// ErrNotArchived is Fetch's error for a file the archive does not hold: recovery asks for such
// files as a matter of course (the segment after the last, a timeline's history).
var ErrNotArchived = errors.New("not in the archive")

// Fetch writes the file name of an S3 archive that a feed keeps to dest, decompressed, for a
// restore_command: from the object of that name, or of that name with a compression suffix.
// dest is removed again when the copy fails, so that recovery never reads half a file.
func Fetch(ctx context.Context, store *s3store.Store, name, dest string) error {
	if err := CheckFileName(name); err != nil {
		return err
	}
	names, err := store.NamesStarting(ctx, name)
	if err != nil {
		return err
	}
	object := ""
	for _, candidate := range append([]string{name}, suffixed(name)...) {
		if slices.Contains(names, candidate) {
			object = candidate
			break
		}
	}
	if object == "" {
		return fmt.Errorf("%s/%s: %w", store.Location(), name, ErrNotArchived)
	}
	body, err := store.Open(ctx, object)
	if err != nil {
		return err
	}
	defer body.Close()
	zr, _, err := compress.NewReader(body)
	if err != nil {
		return fmt.Errorf("reading %s/%s: %w", store.Location(), object, err)
	}
	defer zr.Close()
	if err := writeFile(dest, zr); err != nil {
		return fmt.Errorf("fetching %s/%s into %s: %w", store.Location(), object, dest, err)
	}
	return nil
}

// CheckFileName fails for a name no file of an archive can have: one with a path in it.
func CheckFileName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("%q is not a WAL file name: give restore_command's %%f", name)
	}
	return nil
}

// suffixed are the names of name's compressed copies.
func suffixed(name string) []string {
	exts := compressedExts()
	names := make([]string, len(exts))
	for i, ext := range exts {
		names[i] = name + ext
	}
	return names
}

// writeFile copies r into a new file at path, removing it on failure.
func writeFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
