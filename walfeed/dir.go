package walfeed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// partialSuffix marks a copy of a segment the server was still writing, as pg_receivewal names it.
const partialSuffix = ".partial"

// dirState is what a feed finds in its archive when it starts.
type dirState struct {
	any           bool             // a segment under its final name is there
	newest        pgformat.Segment // the newest such segment
	tli           uint32           // its timeline
	anyPartial    bool
	oldestPartial pgformat.Segment
}

// readNames finds in an archive's file names where a feed resumes. A compressed copy counts as
// the file it holds.
func readNames(names []string, segSize int64) dirState {
	var st dirState
	for _, n := range names {
		name, partial := strings.CutSuffix(uncompressedName(n), partialSuffix)
		tli, seg, ok := pgformat.ParseName(name, segSize)
		switch {
		case !ok:
		case partial:
			if !st.anyPartial || seg < st.oldestPartial {
				st.anyPartial, st.oldestPartial = true, seg
			}
		case !st.any || seg > st.newest || seg == st.newest && tli > st.tli:
			st.any, st.newest, st.tli = true, seg, tli
		}
	}
	return st
}

// writeDurably puts data in dir as name so that a reader never sees half of it and a crash
// loses none of it once it returns: it writes a temporary file, flushes it, renames it, removes
// the file it replaces (replaced, when not ""), and flushes the directory.
func writeDurably(dir, name string, data []byte, mode os.FileMode, replaced string) error {
	if strings.ContainsAny(name, `/\`) || strings.ContainsAny(replaced, `/\`) {
		return fmt.Errorf("server listed an unsafe WAL file name %q", name)
	}
	tmp := filepath.Join(dir, "."+name+".pgpull-tmp")
	if err := writeSynced(tmp, data, mode); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	if replaced != "" {
		if err := os.Remove(filepath.Join(dir, replaced)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return syncDir(dir)
}

func writeSynced(path string, data []byte, mode os.FileMode) error {
	file, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	// The umask may have narrowed the mode asked for; the mode is what the user chose.
	if err := file.Chmod(mode); err != nil {
		file.Close()
		return err
	}
	if _, err := file.Write(data); err != nil {
		file.Close()
		return err
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return fmt.Errorf("flushing %s: %w", path, err)
	}
	return file.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("flushing directory %s: %w", dir, err)
	}
	return nil
}
