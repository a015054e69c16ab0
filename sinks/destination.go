package sinks

import (
	"context"
	"fmt"
	"strings"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/s3store"
)

// Format is the shape of a backup's output.
type Format string

const (
	Stream Format = "stream" // one tar on stdout, or one object in S3
	Plain  Format = "plain"  // a data directory, ready to start
	TarDir Format = "tar"    // pg_basebackup -Ft's base.tar, <oid>.tar and backup_manifest
)

// Destination is a backup's DEST as the command line gives it, checked by ParseDestination before
// any server is touched; Open turns it into a Sink once the server's layout is known.
type Destination struct {
	Location string // "-", a directory, or s3://bucket/prefix
	Format   Format
	Compress compress.Spec
	Mapping  map[string]string // -T OLDDIR=NEWDIR, plain only
	Force    bool              // replace an earlier backup in the directory
	NoSync   bool
	Refresh  bool // bring an earlier or unfinished plain backup up to date in place

	store *s3store.Store // set by Reach for an s3:// Location
	parts *s3store.Parts
}

// DestinationFlags are the command line's words for a Destination.
type DestinationFlags struct {
	Format   string // -F: "", p, plain, t or tar
	Compress compress.Spec
	Mapping  map[string]string
	Force    bool
	NoSync   bool
	Refresh  bool
}

// ParseDestination settles the format of location and checks that the flags fit it: a stream
// is always tar, a directory plain unless -F tar, an s3:// prefix one tar object unless -F tar.
func ParseDestination(location string, f DestinationFlags) (Destination, error) {
	d := Destination{Location: location, Compress: f.Compress, Mapping: f.Mapping, Force: f.Force, NoSync: f.NoSync, Refresh: f.Refresh}
	format, ok := map[string]Format{"": "", "p": Plain, "plain": Plain, "t": TarDir, "tar": TarDir}[f.Format]
	if !ok {
		return d, fmt.Errorf("invalid format %q: use -F plain or -F tar", f.Format)
	}
	switch {
	case location == "-" && format == Plain:
		return d, fmt.Errorf("a plain backup cannot go to stdout: give a directory as DEST, or drop -F plain")
	case location == "-":
		format = Stream
	case IsS3(location) && format == Plain:
		return d, fmt.Errorf("a plain backup cannot go to S3: drop -F plain for one tar object, or use -F tar for pg_basebackup -Ft's objects")
	case IsS3(location) && format == "":
		format = Stream
	case format == "":
		format = Plain
	}
	d.Format = format
	switch {
	case format == Plain && f.Compress.Algorithm != compress.None:
		return d, fmt.Errorf("-z applies to tar output only: add -F tar, or write to stdout with DEST -")
	case format != Plain && len(f.Mapping) > 0 && IsS3(location):
		return d, fmt.Errorf("-T/--tablespace-mapping applies to the plain format only")
	case format != Plain && len(f.Mapping) > 0:
		// Tar output keeps each tablespace's place in tablespace_map; mapping applies on extraction.
		return d, fmt.Errorf("-T/--tablespace-mapping applies to the plain format only: give a directory as DEST without -F tar, or edit tablespace_map after extracting")
	case f.Refresh && format != Plain:
		return d, fmt.Errorf("--refresh updates a plain backup in a directory: give a directory as DEST, without -F tar")
	case f.Refresh && f.Force:
		return d, fmt.Errorf("--refresh and -f/--force exclude each other: --refresh updates the backup in DEST, -f replaces it")
	}
	return d, nil
}

// IsS3 tells an s3:// location from a path.
func IsS3(location string) bool { return strings.HasPrefix(location, "s3://") }

// Reach checks, before the backup starts on the server, what can be checked of the destination:
// a directory can be made or written into (reachDirectory); an s3:// bucket is there and the
// credentials are taken, and the uploads' part buffers then share partBytes. A stream needs
// nothing here.
func (d *Destination) Reach(ctx context.Context, cfg s3store.Config, partBytes int64) error {
	if d.Format != Stream && !IsS3(d.Location) {
		return d.reachDirectory()
	}
	if !IsS3(d.Location) {
		return nil
	}
	loc, err := s3store.ParseURL(d.Location)
	if err != nil {
		return err
	}
	if d.store, err = s3store.Open(ctx, cfg, loc); err != nil {
		return err
	}
	d.parts = s3store.NewParts(partBytes)
	return nil
}

// Uploaded is the bytes sent to the store, and the peak and total of its part buffers; zeros for
// other destinations.
func (d *Destination) Uploaded() (sent, peak, total int64) {
	if d.parts == nil {
		return 0, 0, 0
	}
	return d.parts.Sent(), d.parts.Peak(), d.parts.Bytes()
}
