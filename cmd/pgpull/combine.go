package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/pgpull/pgpull/internal/combine"
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/sinks"
)

func combineCommand(stderr io.Writer) *command {
	fs := newFlags("pgpull combine")
	var output, sums string
	var noSync bool
	mapping := tablespaceMapping{}
	fs.StringVarP(&output, "output", "o", "", "`DIR` to write the rebuilt data directory into (absent or empty)")
	fs.VarP(mapping, "tablespace-mapping", "T", "put the tablespace the newest backup links to `OLDDIR` in NEWDIR")
	fs.StringVar(&sums, "manifest-checksums", "CRC32C", "file checksum `ALGORITHM` in the output's backup_manifest")
	fs.BoolVarP(&noSync, "no-sync", "N", false, "do not fsync what was written")
	return &command{
		name:  "combine",
		usage: "combine [flags] FULL INCREMENTAL... -o DIR",
		short: "rebuild a data directory from a full backup and the incremental backups after it",
		long: "Each backup is a plain backup directory, oldest first, as pg_combinebackup takes them. The chain\n" +
			"is checked whole before anything is written: one cluster, each backup incremental on the one before.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			if output == "" {
				return exitError{2, fmt.Errorf("combine needs -o DIR, where the rebuilt data directory goes")}
			}
			if len(args) < 1 {
				return exitError{2, fmt.Errorf("combine needs the backups of a chain, full first; see pgpull combine --help")}
			}
			alg, err := manifest.ParseAlgorithm(sums)
			if err != nil {
				return err
			}
			spaces, err := combineTablespaces(args[len(args)-1], mapping)
			if err != nil {
				return err
			}
			return combine.Combine(args, output, combine.Options{Tablespaces: spaces, Checksum: alg, NoSync: noSync})
		},
	}
}

// combineTablespaces turns -T OLDDIR=NEWDIR, OLDDIR being where the newest backup's pg_tblspc link
// points, into the tablespace OIDs Combine maps.
func combineTablespaces(newest string, mapping tablespaceMapping) (map[string]string, error) {
	spaces := map[string]string{}
	links := sinks.LinkedTablespaces(newest)
	for old, target := range mapping {
		found := false
		for oid, link := range links {
			if filepath.Clean(link) == filepath.Clean(old) {
				spaces[oid], found = target, true
			}
		}
		if !found {
			return nil, exitError{2, fmt.Errorf("-T %s names no tablespace link of %s", old, newest)}
		}
	}
	return spaces, nil
}
