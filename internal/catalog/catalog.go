// Package catalog finds the backups pgpull wrote under a directory or an s3:// prefix, and the
// WAL a `pgpull wal` archive holds, for `pgpull list`: each backup's WAL span, time, size, and
// whether it is incremental and on which backup, from its backup_manifest and backup_label.
package catalog

import (
	"cmp"
	"slices"
	"time"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// Backup is one backup found.
type Backup struct {
	Location string // its directory, file, or s3:// prefix or object
	Form     string // plain, tar files, stream, tar objects, stream object
	StartLSN pgformat.LSN
	StopLSN  pgformat.LSN
	Timeline uint32
	// StopTime is when backup_label was written, at the backup's stop (its Last-Modified in the
	// manifest); zero when the manifest does not say.
	StopTime time.Time
	// StartTime is backup_label's START TIME, as the server wrote it; "" when not read.
	StartTime string
	Files     int   // the files backup_manifest lists
	Bytes     int64 // their size
	// Incremental is told by INCREMENTAL files in the manifest, or by backup_label.
	Incremental bool
	// From is backup_label's INCREMENTAL FROM LSN and TLI: the prior backup's start; zero when
	// not incremental or when the label was not read.
	From         pgformat.LSN
	FromTimeline uint32
	// DependsOn is the Location of the backup listed whose start is From.
	DependsOn string
	// Note says what could not be read, and how to read it.
	Note string
}

// WALArchive is the WAL a directory `pgpull wal` keeps holds, per timeline.
type WALArchive struct {
	Location string
	Spans    []WALSpan
}

// WALSpan is the segments of one timeline, from the first to the last, and the gaps between.
type WALSpan struct {
	Timeline uint32
	First    string // segment file names
	Last     string
	Start    pgformat.LSN // where First begins
	End      pgformat.LSN // where Last ends
	Segments int
	Missing  []string // segments absent between First and Last
	Partial  string   // the .partial segment after Last, if any
}

// Listing is what List found.
type Listing struct {
	Backups  []Backup
	Archives []WALArchive
}

// describe fills b from its parsed manifest: WAL span, stop time, files, size, incremental.
func describe(b *Backup, m *manifest.Parsed) {
	if len(m.WALRanges) > 0 {
		first, last := m.WALRanges[0], m.WALRanges[len(m.WALRanges)-1]
		b.StartLSN, b.StopLSN, b.Timeline = pgformat.LSN(first.Start), pgformat.LSN(last.End), last.Timeline
	}
	for _, f := range m.Files {
		b.Files++
		b.Bytes += f.Size
		if f.Path == "backup_label" {
			b.StopTime, _ = time.Parse(manifest.LastModifiedLayout, f.LastModified)
		}
		if isIncrementalFile(f.Path) {
			b.Incremental = true
		}
	}
}

// isIncrementalFile reports whether p is an INCREMENTAL.<relation file> of an incremental backup.
func isIncrementalFile(p string) bool {
	base := p
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			base = p[i+1:]
			break
		}
	}
	return len(base) > len("INCREMENTAL.") && base[:len("INCREMENTAL.")] == "INCREMENTAL."
}

// readLabel fills b from its backup_label: START TIME, and INCREMENTAL FROM.
func readLabel(b *Backup, label []byte) {
	if l, err := pgformat.ParseBackupLabel(label); err == nil && l.Incremental() {
		b.Incremental, b.From, b.FromTimeline = true, l.IncrementalFromLSN, l.IncrementalFromTimeline
	}
	b.StartTime = labelStartTime(label)
}

// link sorts the backups by start, those not read last, and names the backup each incremental
// one was taken on.
func (l *Listing) link() {
	slices.SortFunc(l.Backups, func(a, b Backup) int {
		unread := func(b Backup) bool { return b.StopLSN == 0 }
		return cmp.Or(compareBool(unread(a), unread(b)), cmp.Compare(a.StartLSN, b.StartLSN), cmp.Compare(a.Location, b.Location))
	})
	for i := range l.Backups {
		b := &l.Backups[i]
		if b.From == 0 {
			continue
		}
		for _, prior := range l.Backups {
			if prior.StartLSN == b.From && prior.Timeline == b.FromTimeline {
				b.DependsOn = prior.Location
			}
		}
		if b.DependsOn == "" {
			b.Note = "the backup it was taken on (starting at " + b.From.String() + ") is not here"
		}
	}
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
