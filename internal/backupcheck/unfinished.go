package backupcheck

import (
	"fmt"
	"os"
	"path/filepath"
)

// IncompleteMarker is the file a plain backup keeps in its directory from its first byte until
// global/pg_control is on disk (sinks write it): the directory is an unfinished backup, which
// `pgpull backup --refresh` completes.
const IncompleteMarker = "pgpull_incomplete"

// UnfinishedError says that what was given to check is a backup whose run ended before it
// finished, and how to complete it.
type UnfinishedError struct {
	Path string
	Why  string // what shows it
	Next string // how to complete it
}

func (e *UnfinishedError) Error() string {
	return fmt.Sprintf("%s is an unfinished pgpull backup: %s; %s", e.Path, e.Why, e.Next)
}

// unfinishedPlain reports a plain directory that holds the marker, manifest or not: a refresh
// puts the marker down before it removes the old manifest.
func unfinishedPlain(dir string) error {
	if _, err := os.Lstat(filepath.Join(dir, IncompleteMarker)); err != nil {
		return nil
	}
	return &UnfinishedError{Path: dir,
		Why:  IncompleteMarker + " is there, so the run that wrote it stopped before the end",
		Next: "complete it with `pgpull backup --refresh DSN " + dir + "`, which copies only what is missing or changed"}
}

// unfinishedArchives is the error for -F tar output (or its objects) without backup_manifest,
// which pgpull writes last: its archives can be neither checked nor resumed.
func unfinishedArchives(where, again string) error {
	return &UnfinishedError{Path: where,
		Why:  "it has base.tar but no " + manifestName + ", which pgpull writes last",
		Next: "a -F tar backup cannot be resumed: take it again with `" + again + "`"}
}
