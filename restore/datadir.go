package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pgpull/pgpull/sinks"
)

// checkDataDir says whether a restore may write into dir: absent or empty; with delta, also a
// data directory or an unfinished restore. A directory a server runs from is never touched.
func checkDataDir(dir string, delta bool) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory: give the directory to restore into", dir)
	}
	if err := checkNoServer(dir); err != nil {
		return err
	}
	empty, err := isEmpty(dir)
	switch {
	case err != nil:
		return err
	case empty:
		return nil
	case !delta:
		return fmt.Errorf("%s is not empty: give an empty or absent directory, or --delta to bring the data directory in it up to the backup", dir)
	}
	for _, name := range []string{"PG_VERSION", sinks.IncompleteMarker} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("--delta: %s holds no data directory (no PG_VERSION, no %s), and --delta would remove what it holds: give a data directory, or an empty directory without --delta",
		dir, sinks.IncompleteMarker)
}

// within reports whether p is dir or inside it; both clean and absolute.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// overlap reports whether either of two clean absolute paths holds the other.
func overlap(a, b string) bool { return within(a, b) || within(b, a) }
