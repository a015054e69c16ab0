package sinks

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/session"
)

// Bounds are the sinks' share of the run's tuning (backup.Tuning says why each is what it is).
type Bounds struct {
	StreamBuffer  int // the tar stream's write buffer
	TarFileBuffer int // each -F tar archive's write buffer
	FileClosers   int // plain files fsynced and closed at once
	Compressors   int // goroutines compressing each archive
}

// OpenOptions are what a sink needs beside its Destination.
type OpenOptions struct {
	Bounds
	Stdout io.Writer         // a stream's writer
	Append map[string][]byte // bytes added at the end of base.tar's members (-R); see Tar.Append
	Warn   func(string)      // told what an S3 abort is waiting for
}

// LocalCopier is a sink writing into a copy it can read back: a refresh compares against it.
type LocalCopier interface {
	LocalCopy() (*LocalCopy, error)
	Removed() int64 // files removed at Close because the server no longer has them
}

// Open makes the sink for d, once the server and its tablespaces are known; the caller closes or
// aborts it.
func (d *Destination) Open(server session.Server, spaces []session.Tablespace, o OpenOptions) (Sink, error) {
	wrap := func(w io.Writer) (io.WriteCloser, error) { return compress.NewWriter(w, d.Compress, o.Compressors) }
	if d.store != nil {
		return NewS3(S3Options{Store: d.store, Parts: d.parts, Split: d.Format == TarDir, Ext: d.Compress.Ext(),
			Append: o.Append, Wrap: wrap, Warn: o.Warn}), nil
	}
	switch d.Format {
	case Stream:
		return NewTarStream(o.Stdout, TarStreamOptions{Buffer: o.StreamBuffer, Wrap: wrap, Append: o.Append})
	case TarDir:
		return NewTarFiles(d.Location, TarFilesOptions{Force: d.Force, NoSync: d.NoSync, Ext: d.Compress.Ext(),
			Buffer: o.TarFileBuffer, Wrap: wrap, Append: o.Append})
	}
	targets, err := d.tablespaceTargets(spaces)
	if err != nil {
		return nil, err
	}
	return NewDir(d.Location, DirOptions{Force: d.Force, NoSync: d.NoSync, Tablespaces: targets,
		DirMode: server.DirMode, FileMode: server.FileMode(), Refresh: d.Refresh, SystemID: server.SystemID,
		FileClosers: o.FileClosers})
}

// tablespaceTargets is where a plain backup puts each tablespace kept outside the data
// directory: where -T maps it, else where an earlier backup being refreshed put it, else where
// the server has it.
func (d *Destination) tablespaceTargets(spaces []session.Tablespace) (map[string]string, error) {
	for old := range d.Mapping {
		found := false
		for _, t := range spaces {
			found = found || t.Location == old
		}
		if !found {
			return nil, fmt.Errorf("-T %s names no tablespace of the server", old)
		}
	}
	linked := map[string]string{}
	if d.Refresh {
		linked = LinkedTablespaces(d.Location)
	}
	targets := map[string]string{}
	for _, t := range spaces {
		if !filepath.IsAbs(t.Location) {
			continue // in place, inside the data directory
		}
		targets[t.OID] = t.Location
		if m, ok := d.Mapping[t.Location]; ok {
			targets[t.OID] = m
		} else if l, ok := linked[t.OID]; ok {
			targets[t.OID] = l
		}
	}
	return targets, nil
}
