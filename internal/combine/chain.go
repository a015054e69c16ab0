package combine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// Names with a meaning of their own in a plain backup.
const (
	labelName    = "backup_label"
	manifestName = "backup_manifest"
	controlPath  = "global/pg_control"
	versionName  = "PG_VERSION"
	// incompleteMarker is sinks.IncompleteMarker: the file a plain backup holds while unfinished.
	// The value is repeated here because internal packages sit below sinks.
	incompleteMarker = "pgpull_incomplete"
)

// backup is one plain backup directory of the chain, with what the checks read from it.
type backup struct {
	dir      string
	label    []byte
	start    pgformat.BackupLabel
	systemID uint64 // from global/pg_control
	version  string // PG_VERSION, trimmed
	manifest *manifest.Parsed
}

// chainError names the backup a check failed on.
func chainError(dir, format string, args ...any) error {
	return fmt.Errorf("backup %s: %s", dir, fmt.Sprintf(format, args...))
}

// loadBackup reads what the chain checks need from dir, refusing a directory that is not a
// finished plain backup.
func loadBackup(dir string) (*backup, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, chainError(dir, "%v", err)
	}
	if !fi.IsDir() {
		return nil, chainError(dir, "not a directory")
	}
	if _, err := os.Lstat(filepath.Join(dir, incompleteMarker)); err == nil {
		return nil, chainError(dir, "unfinished (it holds %s)", incompleteMarker)
	}
	b := &backup{dir: dir}
	read := func(name string) ([]byte, error) {
		body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, chainError(dir, "no %s", name)
		}
		if err != nil {
			return nil, chainError(dir, "%v", err)
		}
		return body, nil
	}
	if b.label, err = read(labelName); err != nil {
		return nil, err
	}
	if b.start, err = pgformat.ParseBackupLabel(b.label); err != nil {
		return nil, chainError(dir, "%v", err)
	}
	control, err := read(controlPath)
	if err != nil {
		return nil, err
	}
	var ok bool
	if b.systemID, ok = pgformat.ControlSystemID(control); !ok {
		return nil, chainError(dir, "%s is not a valid control file (its CRC does not match)", controlPath)
	}
	version, err := read(versionName)
	if err != nil {
		return nil, err
	}
	b.version = strings.TrimSpace(string(version))
	body, err := read(manifestName)
	if err != nil {
		return nil, err
	}
	if b.manifest, err = manifest.Parse(body); err != nil {
		return nil, chainError(dir, "%s: %v", manifestName, err)
	}
	return b, nil
}

// checkChain checks that the backups, oldest first, form one chain: one cluster (the system
// identifier of every pg_control and of every version 2 manifest alike; before 17 the manifest,
// version 1, names none and pg_control alone tells), one major version, a
// full backup first and then incrementals, each incremental from exactly where the backup
// before it started. The first check that fails names its backup.
func checkChain(chain []*backup) error {
	first := chain[0]
	for i, b := range chain {
		switch {
		case b.manifest.Version >= 2 && b.manifest.SystemID != b.systemID:
			return chainError(b.dir, "%s names system identifier %d, but %s has %d", manifestName, b.manifest.SystemID, controlPath, b.systemID)
		case b.systemID != first.systemID:
			return chainError(b.dir, "is of another cluster: system identifier %d, the full backup %s has %d", b.systemID, first.dir, first.systemID)
		case b.version != first.version:
			return chainError(b.dir, "is of PostgreSQL %s, the full backup %s of %s", b.version, first.dir, first.version)
		case i == 0 && b.start.Incremental():
			return chainError(b.dir, "is an incremental backup (INCREMENTAL FROM LSN %s), but a chain starts with a full backup", b.start.IncrementalFromLSN)
		case i > 0 && !b.start.Incremental():
			return chainError(b.dir, "is a full backup, but only the first backup of a chain may be")
		}
		if i == 0 {
			continue
		}
		prev := chain[i-1].start
		if b.start.IncrementalFromLSN != prev.StartLSN || b.start.IncrementalFromTimeline != prev.StartTimeline {
			return chainError(b.dir, "is incremental from %s on timeline %d, but the backup before it, %s, starts at %s on timeline %d",
				b.start.IncrementalFromLSN, b.start.IncrementalFromTimeline, chain[i-1].dir, prev.StartLSN, prev.StartTimeline)
		}
	}
	return nil
}
