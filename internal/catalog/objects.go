package catalog

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/pgpull/pgpull/internal/backupcheck"
	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/manifest"
)

// Objects is a store of named objects, such as what lies under an s3:// prefix: what verify
// reads a backup from.
type Objects = backupcheck.Objects

// manifestLimit bounds a backup_manifest read from an object: about 200 bytes a file.
const manifestLimit = 1 << 30

// ListObjects lists the backups under location, a prefix whose objects objs holds: each
// "directory" of objects holding backup_manifest is -F tar objects, one holding base.tar alone
// is a stream object.
func ListObjects(ctx context.Context, objs Objects, location string, opts Options) (*Listing, error) {
	names, err := objs.Names(ctx)
	if err != nil {
		return nil, err
	}
	byDir := map[string][]string{}
	for _, n := range names {
		byDir[path.Dir(n)] = append(byDir[path.Dir(n)], path.Base(n))
	}
	l := &Listing{}
	for _, dir := range slices.Sorted(maps.Keys(byDir)) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		loc, prefix := strings.TrimSuffix(location, "/")+"/"+dir, dir+"/"
		if dir == "." {
			loc, prefix = strings.TrimSuffix(location, "/"), ""
		}
		files := byDir[dir]
		base := ""
		for _, f := range files {
			if strings.HasPrefix(f, "base.tar") && hasStreamSuffix(f) {
				base = f
			}
		}
		switch {
		case slices.Contains(files, "backup_manifest"):
			l.Backups = append(l.Backups, describeTarObjects(ctx, objs, loc, prefix, base, opts))
		case base != "":
			l.Backups = append(l.Backups, describeStreamObject(ctx, objs, loc, prefix+base, opts))
		}
	}
	l.link()
	return l, nil
}

// describeTarObjects describes -F tar objects from their backup_manifest, and the label in base.tar
// when asked to read it.
func describeTarObjects(ctx context.Context, objs Objects, loc, prefix, base string, opts Options) Backup {
	b := Backup{Location: loc, Form: "tar objects"}
	r, err := objs.Open(ctx, prefix+"backup_manifest")
	if err != nil {
		b.Note = err.Error()
		return b
	}
	raw, err := io.ReadAll(io.LimitReader(r, manifestLimit))
	r.Close()
	if err == nil {
		var m *manifest.Parsed
		if m, err = manifest.Parse(raw); err == nil {
			describe(&b, m)
		}
	}
	switch {
	case err != nil:
		b.Note = "backup_manifest: " + err.Error()
	case base == "":
		b.Note = "no base.tar object"
	case !opts.ReadStreams:
		b.Note = "its backup_label is inside " + base + ": --read-streams reads it"
	default:
		withObject(ctx, objs, prefix+base, &b, func(r io.Reader) error {
			label, _, err := tarLabel(r)
			if err == nil {
				readLabel(&b, label)
			}
			return err
		})
	}
	return b
}

// describeStreamObject describes a backup kept as one stream object, when asked to read it.
func describeStreamObject(ctx context.Context, objs Objects, loc, name string, opts Options) Backup {
	b := Backup{Location: loc, Form: "stream object"}
	if !opts.ReadStreams {
		b.Note = "its backup_manifest is the stream's last member: --read-streams reads the stream to it"
		return b
	}
	withObject(ctx, objs, name, &b, func(r io.Reader) error {
		streamContents(&b, r)
		return nil
	})
	return b
}

// withObject opens object name, decompressed by its content, for read; a failure becomes b's note.
func withObject(ctx context.Context, objs Objects, name string, b *Backup, read func(io.Reader) error) {
	body, err := objs.Open(ctx, name)
	if err != nil {
		b.Note = err.Error()
		return
	}
	defer body.Close()
	zr, _, err := compress.NewReader(body)
	if err == nil {
		err = read(zr)
		zr.Close()
	}
	if err != nil {
		b.Note = fmt.Sprintf("%s: %v", path.Base(name), err)
	}
}
