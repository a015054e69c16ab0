package changes

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// ReadPrior makes the Prior of an incremental backup from the prior backup's manifest, and
// returns the prior's system identifier. dir is the prior backup's directory when it is a local
// plain backup, "" otherwise. The start comes from the manifest's first WAL range, which begins
// at the backup's start. The system identifier is the manifest's (version 2, PostgreSQL 17+) or,
// before 17, that of the pg_control in dir: a prior of another cluster must be refused.
//
// In dir, each INCREMENTAL file the prior holds is read for the length of the file it rebuilds,
// so that PageLSN scans it rather than copying the file whole.
func ReadPrior(manifestBytes []byte, dir string) (Prior, uint64, error) {
	m, err := manifest.Parse(manifestBytes)
	if err != nil {
		return Prior{}, 0, fmt.Errorf("the prior backup's backup_manifest: %w", err)
	}
	if len(m.WALRanges) == 0 {
		return Prior{}, 0, errors.New("the prior backup's backup_manifest has no WAL range, so its start is unknown")
	}
	first := m.WALRanges[0]
	prior := NewPrior(m, pgformat.LSN(first.Start), first.Timeline)
	sysid := m.SystemID
	if m.Version < 2 {
		if sysid, err = controlSystemID(dir); err != nil {
			return Prior{}, 0, err
		}
	}
	if dir != "" {
		if err := rebuiltLengths(&prior, dir); err != nil {
			return Prior{}, 0, err
		}
	}
	return prior, sysid, nil
}

// controlSystemID reads the system identifier of the plain backup in dir.
func controlSystemID(dir string) (uint64, error) {
	if dir == "" {
		return 0, errors.New("the prior backup's manifest (version 1, before PostgreSQL 17) does not name its cluster: " +
			"give the prior backup's directory, whose global/pg_control does")
	}
	data, err := os.ReadFile(filepath.Join(dir, "global", "pg_control"))
	if err != nil {
		return 0, fmt.Errorf("the prior backup's pg_control: %w", err)
	}
	id, ok := pgformat.ControlSystemID(data)
	if !ok {
		return 0, fmt.Errorf("the prior backup's global/pg_control (%d bytes) is not a pg_control file", len(data))
	}
	return id, nil
}

// rebuiltLengths gives each file the prior holds as INCREMENTAL its rebuilt length, from the
// header of that file in dir.
func rebuiltLengths(prior *Prior, dir string) error {
	for name, f := range prior.Files {
		if !f.Incremental {
			continue
		}
		d, base := path.Split(name)
		file, err := os.Open(filepath.Join(dir, filepath.FromSlash(d+pgformat.IncrementalPrefix+base)))
		if err != nil {
			return fmt.Errorf("the prior backup's %s%s%s: %w", d, pgformat.IncrementalPrefix, base, err)
		}
		h, err := pgformat.ParseIncrementalHeader(file)
		file.Close()
		if err != nil {
			return fmt.Errorf("the prior backup's %s%s%s: %w", d, pgformat.IncrementalPrefix, base, err)
		}
		f.Size, f.Incremental = int64(h.BlockLength())*pgformat.BlockSize, false
		prior.Files[name] = f
	}
	return nil
}
