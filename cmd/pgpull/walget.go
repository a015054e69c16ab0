package main

import (
	"context"
	"fmt"

	"github.com/pgpull/pgpull/walfeed"
)

func walGetCommand() *command {
	fs := newFlags("pgpull wal-get")
	var s3 s3Flags
	s3.add(fs)
	return &command{
		name:  "wal-get",
		usage: "wal-get [flags] s3://BUCKET/PREFIX NAME DEST",
		short: "fetch one WAL file from the S3 archive pgpull wal keeps, for restore_command",
		long: "Writes the file NAME (a WAL segment or a timeline history file) of the archive that\n" +
			"`pgpull wal DSN s3://BUCKET/PREFIX` keeps to DEST, decompressed whatever --compress stored it\n" +
			"with: restore_command = 'pgpull wal-get s3://BUCKET/PREFIX %f %p'. It exits 1 when the archive\n" +
			"has no such file, which recovery asks for as a matter of course, and when the store cannot\n" +
			"be read after 5 attempts over 7.5 s (the line says which).",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			if len(args) != 3 {
				return fmt.Errorf("wal-get needs s3://BUCKET/PREFIX, NAME and DEST (restore_command's %%f and %%p), got %d arguments", len(args))
			}
			if scheme := schemeOf(args[0]); scheme != "s3" {
				return fmt.Errorf("wal-get reads an s3://BUCKET/PREFIX archive, not %q: a directory's files are read with cp", args[0])
			}
			if err := walfeed.CheckFileName(args[1]); err != nil {
				return err
			}
			store, err := s3.open(ctx, args[0])
			if err != nil {
				return err
			}
			return walfeed.Fetch(ctx, store, args[1], args[2])
		},
	}
}
