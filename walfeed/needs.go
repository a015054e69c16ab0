package walfeed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// Needs is the oldest WAL a warm standby fed by the feed can still ask for: the start of the
// base backup it was restored from. A gap before it does not matter to that standby.
type Needs struct {
	From pgformat.LSN
	What string // names it in messages: "the backup in /srv/standby"
}

// NeedsOfBackup reads where a base backup starts from its backup_label (a plain backup's
// directory, or the file) or its backup_manifest (the directory of -F tar output, or the file).
func NeedsOfBackup(path string) (*Needs, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--from-backup: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		files = []string{filepath.Join(path, "backup_label"), filepath.Join(path, "backup_manifest")}
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("--from-backup: %w", err)
		}
		from, err := backupStart(filepath.Base(file), data)
		if err != nil {
			return nil, fmt.Errorf("--from-backup %s: %w", file, err)
		}
		return &Needs{From: from, What: "the backup in " + path}, nil
	}
	return nil, fmt.Errorf("--from-backup %s holds neither backup_label nor backup_manifest: name a base backup's directory or one of those files", path)
}

// backupStart is the LSN a backup starts at, read from its backup_manifest (the earliest of its
// WAL ranges) or its backup_label (START WAL LOCATION).
func backupStart(name string, data []byte) (pgformat.LSN, error) {
	if name == "backup_manifest" {
		m, err := manifest.Parse(data)
		if err != nil {
			return 0, err
		}
		if len(m.WALRanges) == 0 {
			return 0, errors.New("the manifest lists no WAL range")
		}
		from := m.WALRanges[0].Start
		for _, r := range m.WALRanges {
			from = min(from, r.Start)
		}
		return pgformat.LSN(from), nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "START WAL LOCATION: "); ok {
			lsn, _, _ := strings.Cut(rest, " ")
			return pgformat.ParseLSN(lsn)
		}
	}
	return 0, errors.New("no START WAL LOCATION line: this is not a backup_label")
}
