package pgformat

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The backup_label lines that place a backup in WAL and in a chain of incremental backups. The
// server writes INCREMENTAL FROM right after START TIMELINE, and only in an incremental backup.
const (
	labelStartWAL      = "START WAL LOCATION: "
	labelStartTimeline = "START TIMELINE: "
	labelIncrLSN       = "INCREMENTAL FROM LSN: "
	labelIncrTimeline  = "INCREMENTAL FROM TLI: "
)

// BackupLabel is what a backup_label says about where the backup starts and, for an incremental
// backup, where the backup it builds on started.
type BackupLabel struct {
	StartLSN      LSN
	StartTimeline uint32
	// IncrementalFromLSN and IncrementalFromTimeline are the prior backup's start; both zero in a
	// full backup.
	IncrementalFromLSN      LSN
	IncrementalFromTimeline uint32
}

// Incremental reports whether the label is an incremental backup's.
func (l BackupLabel) Incremental() bool { return l.IncrementalFromTimeline != 0 }

// ParseBackupLabel reads the four lines as pg_combinebackup does, a little more strictly: START
// WAL LOCATION (an LSN then a space) and START TIMELINE are required, INCREMENTAL FROM LSN and
// INCREMENTAL FROM TLI come together or not at all, timelines are not 0, each line ends with a
// newline and none repeats. Other lines are not read.
func ParseBackupLabel(label []byte) (BackupLabel, error) {
	var l BackupLabel
	seen := map[string]bool{}
	for rest := label; len(rest) > 0; {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		rest = after
		key, value, field := labelField(line)
		if field == nil {
			continue
		}
		if !ok {
			return l, fmt.Errorf("backup_label: %s has no newline at its end", key)
		}
		if seen[key] {
			return l, fmt.Errorf("backup_label: %s appears twice", key)
		}
		seen[key] = true
		if err := field(&l, value); err != nil {
			return l, fmt.Errorf("backup_label: %s%s: %w", key, value, err)
		}
	}
	switch {
	case !seen[labelStartWAL]:
		return l, fmt.Errorf("backup_label: no %q line", labelStartWAL)
	case !seen[labelStartTimeline]:
		return l, fmt.Errorf("backup_label: no %q line", labelStartTimeline)
	case seen[labelIncrLSN] != seen[labelIncrTimeline]:
		return l, fmt.Errorf("backup_label: %q and %q must come together", labelIncrLSN, labelIncrTimeline)
	}
	return l, nil
}

// labelField finds which of the four lines line is, returning its key, the text after the key and
// the parser of that text; a nil parser for any other line.
func labelField(line []byte) (string, string, func(*BackupLabel, string) error) {
	for _, f := range []struct {
		key   string
		parse func(*BackupLabel, string) error
	}{
		{labelStartWAL, func(l *BackupLabel, v string) (err error) {
			// "0/2000028 (file 000000010000000000000002)": the LSN ends at a space.
			lsn, _, ok := strings.Cut(v, " ")
			if !ok {
				return errors.New("no space after the LSN")
			}
			l.StartLSN, err = ParseLSN(lsn)
			return err
		}},
		{labelStartTimeline, func(l *BackupLabel, v string) (err error) { l.StartTimeline, err = parseTimeline(v); return err }},
		{labelIncrLSN, func(l *BackupLabel, v string) (err error) { l.IncrementalFromLSN, err = ParseLSN(v); return err }},
		{labelIncrTimeline, func(l *BackupLabel, v string) (err error) {
			l.IncrementalFromTimeline, err = parseTimeline(v)
			return err
		}},
	} {
		if value, ok := bytes.CutPrefix(line, []byte(f.key)); ok {
			return f.key, string(value), f.parse
		}
	}
	return "", "", nil
}

// parseTimeline reads a timeline ID: a decimal uint32 other than 0, which no timeline has.
func parseTimeline(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("not a timeline")
	}
	if n == 0 {
		return 0, errors.New("timeline 0")
	}
	return uint32(n), nil
}

// WithoutIncrementalFrom is label less its INCREMENTAL FROM lines, every other byte as it was:
// the label of a backup rebuilt from an incremental chain, which a server starts from (it refuses
// a label that names a prior backup).
func WithoutIncrementalFrom(label []byte) []byte {
	out := make([]byte, 0, len(label))
	for rest := label; len(rest) > 0; {
		end := bytes.IndexByte(rest, '\n') + 1
		if end == 0 {
			end = len(rest)
		}
		line := rest[:end]
		rest = rest[end:]
		if !bytes.HasPrefix(line, []byte(labelIncrLSN)) && !bytes.HasPrefix(line, []byte(labelIncrTimeline)) {
			out = append(out, line...)
		}
	}
	return out
}

// WithIncrementalFrom is label with INCREMENTAL FROM lines naming the prior backup's start (lsn,
// tli), placed after START TIMELINE as the server places them, in place of any it had. A label
// pg_backup_stop returns lacks them: the server writes them only in an incremental base backup
// taken over the replication protocol.
func WithIncrementalFrom(label []byte, lsn LSN, tli uint32) ([]byte, error) {
	if tli == 0 {
		return nil, errors.New("backup_label: timeline 0")
	}
	if _, err := ParseBackupLabel(label); err != nil {
		return nil, err
	}
	base := WithoutIncrementalFrom(label)
	i := bytes.Index(base, []byte("\n"+labelStartTimeline))
	if bytes.HasPrefix(base, []byte(labelStartTimeline)) {
		i = -1 // the first line
	}
	end := i + 1 + bytes.IndexByte(base[i+1:], '\n') + 1 // just past the START TIMELINE line
	lines := fmt.Appendf(nil, "%s%s\n%s%d\n", labelIncrLSN, lsn, labelIncrTimeline, tli)
	out := make([]byte, 0, len(base)+len(lines))
	out = append(out, base[:end]...)
	out = append(out, lines...)
	return append(out, base[end:]...), nil
}
