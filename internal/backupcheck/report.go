package backupcheck

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pgpull/pgpull/internal/manifest"
)

// ProblemKind classifies a Problem.
type ProblemKind int

const (
	Missing          ProblemKind = iota + 1 // in the manifest, or needed WAL, but not in the backup
	Extra                                   // in the backup but not in the manifest
	SizeMismatch                            // present with the wrong size
	ChecksumMismatch                        // present with the right size and the wrong checksum
	Duplicate                               // a tar member that appears more than once
	Truncated                               // a tar archive or stream that ends early
	Unreadable                              // a file or archive that could not be read
	BadManifest                             // a backup_manifest that does not parse or whose own checksum fails
	Unchecked                               // checksums that could not be computed
	BadWAL                                  // WAL that does not read whole to the stop LSN
	SystemIDMismatch                        // pg_control names another system than a version 2 manifest
)

// Problem is one way the backup differs from its manifest.
type Problem struct {
	Kind ProblemKind
	// Path is the file relative to the backup root (as the manifest names it), or the name of
	// an archive or of the backup itself.
	Path   string
	Detail string
}

// String is the report line: it starts with the file it is about, or with what went wrong.
func (p Problem) String() string {
	name := displayPath(p.Path)
	switch p.Kind {
	case Missing:
		if p.Detail != "" {
			return "missing: " + name + " (" + p.Detail + ")"
		}
		return "missing: " + name
	case Extra:
		if p.Detail != "" {
			return "extra: " + name + " (" + p.Detail + ")"
		}
		return "extra: " + name
	case Truncated:
		return "truncated stream: " + p.Detail
	case Unchecked:
		return "unchecked: " + p.Detail
	case BadWAL:
		return "bad WAL: " + name + " " + p.Detail
	}
	return name + ": " + p.Detail
}

// displayPath quotes a path that would not print as itself (bad UTF-8, control characters).
func displayPath(p string) string {
	if utf8.ValidString(p) && strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return p
	}
	return strconv.Quote(p)
}

// Report is the outcome of checking a backup.
type Report struct {
	Form        string // what was checked: "plain directory", "tar files", "tar stream (gzip)"
	Problems    []Problem
	Files       int   // manifest files present: those checked that matched, and those not checked (see ignoredPath)
	Bytes       int64 // their total size
	WALRanges   []manifest.WALRange
	WALSegments int  // WAL segments found for WALRanges
	WALWhole    bool // the WAL read whole, record by record, from the start through the stop LSN
}

// Whole reports whether the backup matched its manifest in every respect checked.
func (r *Report) Whole() bool { return len(r.Problems) == 0 }

func (r *Report) add(kind ProblemKind, p, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Kind: kind, Path: p, Detail: fmt.Sprintf(format, args...)})
}

// NotBackupError says that what was given to check holds no backup at all.
type NotBackupError struct {
	Path   string
	Reason string
	// noManifest: what was read held no backup_manifest (a stream without one).
	noManifest bool
}

func (e *NotBackupError) Error() string {
	return fmt.Sprintf("%s is not a pgpull backup: %s", e.Path, e.Reason)
}
