package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pgpull/pgpull/backup"
	"github.com/pgpull/pgpull/sinks"
	"github.com/pgpull/pgpull/stages/changes"
)

// readPrior reads the backup --incremental-from names, before any server is touched: its
// backup_manifest, in a plain or -F tar backup directory, as a file, or under an s3:// prefix of
// a -F tar backup.
func readPrior(ctx context.Context, location string, s3 s3Flags) (*backup.Incremental, error) {
	manifestBytes, dir, err := priorManifest(ctx, location, s3)
	if err != nil {
		return nil, fmt.Errorf("--incremental-from %s: %w", location, err)
	}
	prior, sysid, err := changes.ReadPrior(manifestBytes, dir)
	if err != nil {
		return nil, fmt.Errorf("--incremental-from %s: %w", location, err)
	}
	return &backup.Incremental{Prior: prior, SystemID: sysid}, nil
}

// priorManifest finds the prior's backup_manifest; dir is the prior's directory when it is a
// local plain backup, whose files ReadPrior may read.
func priorManifest(ctx context.Context, location string, s3 s3Flags) (manifest []byte, dir string, err error) {
	if sinks.IsS3(location) {
		store, err := s3.open(ctx, location)
		if err != nil {
			return nil, "", err
		}
		r, err := store.Open(ctx, "backup_manifest")
		if err != nil {
			return nil, "", fmt.Errorf("%w (an incremental backup follows an S3 backup taken with -F tar, whose backup_manifest is an object of its own)", err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		return b, "", err
	}
	st, err := os.Stat(location)
	if err != nil {
		return nil, "", err
	}
	if !st.IsDir() {
		b, err := os.ReadFile(location)
		return b, "", err
	}
	if _, err := os.Stat(filepath.Join(location, sinks.IncompleteMarker)); err == nil {
		return nil, "", fmt.Errorf("the backup there is unfinished (%s): complete it with --refresh first", sinks.IncompleteMarker)
	}
	b, err := os.ReadFile(filepath.Join(location, "backup_manifest"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("no backup_manifest there: give a backup pgpull or pg_basebackup wrote with a manifest, or its backup_manifest file")
	}
	if err != nil {
		return nil, "", err
	}
	if _, err := os.Stat(filepath.Join(location, "global", "pg_control")); err != nil {
		return b, "", nil // a -F tar directory: its files are in archives
	}
	return b, location, nil
}

// refreshPrior is the copy a refresh updates, read as the prior backup whose changes since are to
// be read over it, or nil when its start cannot be trusted and every block's hash is compared
// instead: a copy a killed refresh left half-updated, one without a manifest, or none yet.
func refreshPrior(ctx context.Context, dir string, log func(string, ...any)) *backup.Incremental {
	if _, err := os.Stat(dir); err != nil {
		return nil // nothing there yet: a whole copy
	}
	prior, err := readPrior(ctx, dir, s3Flags{})
	if err != nil {
		log("refresh: comparing every block's hash with the copy: %v", err)
		return nil
	}
	return prior
}
