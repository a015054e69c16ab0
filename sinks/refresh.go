package sinks

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgpull/pgpull/internal/backupcheck"
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/pipeline"
)

// IncompleteMarker is the file a plain backup keeps in its directory from its first byte until
// global/pg_control is on disk: the directory is an unfinished backup, which `pgpull backup
// --refresh` completes, and `pgpull verify` says so. Its text says so to whoever finds it.
const IncompleteMarker = backupcheck.IncompleteMarker

// checkRefreshable checks that dir may be refreshed in place: absent or empty (a first backup),
// an unfinished pgpull backup (the marker), or an earlier backup of the same cluster (its
// backup_manifest). A directory a server runs from is never touched.
func checkRefreshable(dir string, systemID uint64) error {
	exists, empty, err := dirState(dir)
	if err != nil {
		return fmt.Errorf("destination directory: %w", err)
	}
	if !exists || empty {
		return nil
	}
	has := func(name string) bool {
		_, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name)))
		return err == nil
	}
	refuse := func(why string) error {
		return fmt.Errorf("cannot refresh %q: %s", dir, why)
	}
	switch {
	case has("postmaster.pid"):
		return refuse("a server runs from it (postmaster.pid); stop it first")
	case has(IncompleteMarker):
		return nil
	case !has(manifestName):
		return refuse("it holds no earlier backup (no backup_manifest, no " + IncompleteMarker + "); give an empty or absent directory")
	}
	if id := backupSystemID(dir); id != 0 && systemID != 0 && id != systemID {
		return refuse(fmt.Sprintf("it is a backup of another cluster (system identifier %d, the server's is %d); choose another directory",
			id, systemID))
	}
	return nil
}

// backupSystemID is the system identifier of the backup in dir, from its backup_manifest
// (version 2, PostgreSQL 17 on) or its global/pg_control; 0 when neither says.
func backupSystemID(dir string) uint64 {
	if body, err := os.ReadFile(filepath.Join(dir, manifestName)); err == nil {
		if m, err := manifest.Parse(body); err == nil && m.SystemID != 0 {
			return m.SystemID
		}
	}
	if body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(controlPath))); err == nil {
		if id, ok := pgformat.ControlSystemID(body); ok {
			return id
		}
	}
	return 0
}

// LinkedTablespaces returns the targets of the tablespace links in dir/pg_tblspc, by OID: where
// an earlier backup put each tablespace, and so where its refresh finds it.
func LinkedTablespaces(dir string) map[string]string {
	links := map[string]string{}
	entries, err := os.ReadDir(filepath.Join(dir, "pg_tblspc"))
	if err != nil {
		return links
	}
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink == 0 || checkOID(e.Name()) != nil {
			continue
		}
		if target, err := os.Readlink(filepath.Join(dir, "pg_tblspc", e.Name())); err == nil && filepath.IsAbs(target) {
			links[e.Name()] = filepath.Clean(target)
		}
	}
	return links
}

// markIncomplete writes the marker, durable, then removes what lets the directory start or pass
// for a complete backup: global/pg_control, then backup_label, tablespace_map and backup_manifest,
// each step on disk before the next.
func markIncomplete(a *area, fsync bool, began time.Time) error {
	text := "This directory is an unfinished backup taken by pgpull (started " + began.UTC().Format(time.RFC3339) + ").\n" +
		"It has no global/pg_control and cannot start as a cluster.\n" +
		"Run `pgpull backup --refresh DSN " + a.path + "` to complete it; ranges already here are not moved again.\n"
	var f *os.File
	_, err := a.root.Lstat(IncompleteMarker)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = a.create(IncompleteMarker, 0o600) // made by this run: Abort takes it back
	} else {
		f, err = a.update(IncompleteMarker, 0o600, int64(len(text)))
	}
	if err == nil {
		_, err = f.WriteAt([]byte(text), 0)
		if fsync && err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil && fsync {
		err = syncDir(a.root.Open("."))
	}
	if err != nil {
		return fmt.Errorf("marking the backup directory incomplete: writing %s: %w", a.full(IncompleteMarker), pathCause(err))
	}
	if err := disarm(a, fsync); err != nil {
		return fmt.Errorf("marking the backup directory incomplete: %w", err)
	}
	return nil
}

// removeStale removes every entry of the area the run did not write, and returns how many files
// (not directories) went with them: relations dropped since the earlier backup, its WAL, and
// anything a cluster started from it made. A stale tablespace link goes, not what it points to.
func removeStale(a *area) (int64, error) {
	var removed int64
	var stale []string
	staleDir := "" // a stale directory being walked: its entries go with it
	err := fs.WalkDir(a.root.FS(), ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if staleDir != "" && strings.HasPrefix(name, staleDir+"/") {
			if !e.IsDir() {
				removed++
			}
			return nil
		}
		staleDir = ""
		if name == "." || a.kept[name] {
			return nil
		}
		stale = append(stale, name)
		if e.IsDir() {
			staleDir = name
		} else {
			removed++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("removing files the server no longer has: %w", err)
	}
	for _, name := range stale {
		if err := a.root.RemoveAll(filepath.FromSlash(name)); err != nil {
			return 0, fmt.Errorf("removing files the server no longer has: %w", err)
		}
		a.changed[path.Dir(name)] = true
	}
	return removed, nil
}

// writeAt writes p at its offset into a file that is being refreshed: for a Piece compared with
// the copy, only the blocks fetch replaced, since the others are on disk already; nothing for one
// of a Patched file without Data, in which no block changed.
func writeAt(f *os.File, p *pipeline.Piece) error {
	if p.Delta != nil && p.Data == nil && p.File.Patched {
		return nil
	}
	if p.Delta == nil {
		// Past Data the Piece is zeros (vanished mid-file, or past File.ReadTo), as writePiece writes.
		return writePiece(io.NewOffsetWriter(f, p.Offset), p)
	}
	if int64(len(p.Data)) != p.Length {
		return fmt.Errorf("piece of %q at offset %d holds %d bytes, want %d", p.File.Path, p.Offset, len(p.Data), p.Length)
	}
	for i, moved := range p.Delta.Moved {
		if !moved {
			continue
		}
		off := int64(i) * pipeline.DeltaBlock
		if _, err := f.WriteAt(p.Data[off:min(off+pipeline.DeltaBlock, p.Length)], p.Offset+off); err != nil {
			return err
		}
	}
	return nil
}

// LocalCopy reads the files of the backup being refreshed, for the delta stage. Its methods may
// be called from many goroutines.
type LocalCopy struct {
	data   *os.Root
	spaces map[string]*os.Root // tablespace OID -> its target, when that exists
}

func openLocalCopy(root string, spaces map[string]string) (*LocalCopy, error) {
	data, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("destination directory: %w", err)
	}
	c := &LocalCopy{data: data, spaces: map[string]*os.Root{}}
	for oid, target := range spaces {
		if r, err := os.OpenRoot(target); err == nil {
			c.spaces[oid] = r
		}
	}
	return c, nil
}

// Open opens the local file holding f's bytes, or returns nil when there is none.
func (c *LocalCopy) Open(f *pipeline.File) (*os.File, error) {
	root, name := c.locate(f)
	if root == nil {
		return nil, nil
	}
	file, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the local copy of %s: %w", f.Path, err)
	}
	return file, nil
}

// Size is the size of the local regular file holding f's bytes, -1 when there is none.
func (c *LocalCopy) Size(f *pipeline.File) int64 {
	root, name := c.locate(f)
	if root == nil {
		return -1
	}
	fi, err := root.Lstat(name) // the sink replaces a link with a file of its own
	if err != nil || !fi.Mode().IsRegular() {
		return -1
	}
	return fi.Size()
}

// locate finds the root and name of the local file holding f's bytes; a nil root when the copy
// cannot hold it.
func (c *LocalCopy) locate(f *pipeline.File) (*os.Root, string) {
	if checkPath(f.Path) != nil {
		return nil, "" // the sink refuses it with the reason
	}
	root, name := c.data, f.Path
	if f.Tablespace != "" {
		root = c.spaces[f.Tablespace]
		name = strings.TrimPrefix(f.Path, "pg_tblspc/"+f.Tablespace+"/")
		if root == nil || name == f.Path {
			return nil, ""
		}
	}
	return root, filepath.FromSlash(name)
}

// Close closes the roots.
func (c *LocalCopy) Close() {
	c.data.Close()
	for _, r := range c.spaces {
		r.Close()
	}
}
