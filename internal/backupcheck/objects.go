package backupcheck

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"

	"github.com/pgpull/pgpull/internal/manifest"
)

// Objects is a backup kept as named objects, such as under an s3:// prefix, read as streams.
type Objects interface {
	Names(ctx context.Context) ([]string, error)
	Open(ctx context.Context, name string) (io.ReadCloser, error)
}

// VerifyObjects checks a backup kept as objects, named where in messages: -F tar's archives
// with backup_manifest beside them, or one object holding the tar stream.
func (c Checker) VerifyObjects(ctx context.Context, objs Objects, where string) (*Report, error) {
	names, err := objs.Names(ctx)
	if err != nil {
		return nil, err
	}
	archives := map[string]string{}
	var others []string
	hasManifest := false
	for _, n := range names {
		prefix, ok := archivePrefix(n)
		switch {
		case n == manifestName:
			hasManifest = true
		case ok:
			archives[prefix] = n
		default:
			others = append(others, n)
		}
	}
	base, ok := archives[""]
	switch {
	case !ok:
		return nil, &NotBackupError{Path: where, Reason: "no base.tar object found"}
	case !hasManifest && len(archives) == 1 && len(others) == 0:
		r, err := objs.Open(ctx, base)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		rep, err := c.VerifyStream(ctx, r, where+"/"+base)
		var nb *NotBackupError
		if errors.As(err, &nb) && nb.noManifest {
			// One object holds its manifest: an object is made whole or not at all. Without one
			// it is -F tar's base.tar, whose backup_manifest never came.
			return nil, unfinishedArchives(where, "pgpull backup -F tar DSN "+where)
		}
		return rep, err
	case !hasManifest:
		return nil, unfinishedArchives(where, "pgpull backup -F tar DSN "+where)
	}
	rep := &Report{Form: "tar objects"}
	r, err := objs.Open(ctx, manifestName)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(b)
	if err != nil {
		rep.add(BadManifest, manifestName, "%v", err)
		return rep, nil
	}
	if err := c.copyManifest(b, m); err != nil {
		return nil, err
	}
	files := map[string]entry{}
	walk := newWALWalk(m.WALRanges)
	for _, prefix := range slices.Sorted(maps.Keys(archives)) {
		name := archives[prefix]
		r, err := objs.Open(ctx, name)
		if err != nil {
			rep.add(Unreadable, name, "%v", err)
			continue
		}
		scan, err := c.scanArchive(ctx, r, name, prefix, fileAlgorithms(m), false, files, walk, rep)
		r.Close()
		if err != nil {
			return nil, err
		}
		if scan.members == 0 && scan.notTar != nil {
			rep.add(Unreadable, name, "not a tar archive: %v", scan.notTar)
		}
	}
	for _, o := range others {
		rep.add(Extra, o, "not an archive of a -F tar backup")
	}
	compare(m, files, walk, rep)
	return rep, nil
}
