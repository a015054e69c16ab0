package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/pgpull/pgpull/internal/s3store"
	"github.com/pgpull/pgpull/pipeline"
)

// S3Options configure an S3 sink.
type S3Options struct {
	Store *s3store.Store
	Parts *s3store.Parts
	// Split writes pg_basebackup -Ft's layout, base.tar, <oid>.tar and backup_manifest; without
	// it the whole stream, manifest inside, is the one object base.tar.
	Split bool
	// Ext is appended to each archive's name: ".zst" gives base.tar.zst.
	Ext string
	// Wrap, when set, is put between each archive and its upload, to compress it. Closing what
	// it returns must flush it without closing the upload.
	Wrap func(io.Writer) (io.WriteCloser, error)
	// Append adds bytes at the end of base.tar's members, by name; see Tar.Append.
	Append map[string][]byte
	// Warn is told what Abort is waiting for.
	Warn func(string)
}

// S3 writes the backup as objects under s3://bucket/prefix, each one multipart upload that
// appears only once complete; with Split, backup_manifest is uploaded after every archive is
// complete, so its presence means the backup is whole.
type S3 struct {
	opts     S3Options
	archives map[string]*s3Archive // by tablespace OID ("" for base.tar, the only one without Split)
	// last is the tablespace whose archive the previous Piece went to; finished are those whose
	// archives are complete. The listing sends each tablespace's files together, after the main
	// data directory's and before its WAL, so a tablespace's archive is complete once a Piece
	// of another comes: completing it then keeps at most two part buffers filling.
	last     string
	finished map[string]bool
	done     bool
}

type s3Archive struct {
	upload *s3store.Upload
	wrap   io.WriteCloser // nil without compression
	tar    *Tar
}

// NewS3 makes the sink; nothing is uploaded before the first Piece.
func NewS3(opts S3Options) *S3 {
	return &S3{opts: opts, archives: map[string]*s3Archive{}, finished: map[string]bool{}}
}

// Put writes p to its archive, starting that archive's upload on first use.
func (s *S3) Put(ctx context.Context, p *pipeline.Piece) error {
	if s.done {
		p.Done()
		return errors.New("writing to S3: put after close or abort")
	}
	oid := ""
	if s.opts.Split {
		oid = p.File.Tablespace
		if oid != "" && p.File.Path == "pg_tblspc/"+oid {
			p.Done() // tablespace_map says where the tablespace goes
			return nil
		}
	}
	if oid != s.last {
		if err := s.finish(s.last); err != nil {
			p.Done()
			return err
		}
		s.last = oid
	}
	a, err := s.archive(ctx, oid)
	if err != nil {
		p.Done()
		return err
	}
	return a.tar.Put(ctx, p)
}

// finish completes the archive of tablespace oid; base.tar ("") waits for Close, since the
// closing files and the WAL come last.
func (s *S3) finish(oid string) error {
	a := s.archives[oid]
	if oid == "" || a == nil {
		return nil
	}
	if err := a.complete(nil); err != nil {
		return fmt.Errorf("writing to S3: %w", err)
	}
	delete(s.archives, oid)
	s.finished[oid] = true
	return nil
}

// complete ends the archive with inside as its last member (nil for none), flushes its
// compressor and completes its upload.
func (a *s3Archive) complete(inside []byte) error {
	err := a.tar.Close(context.Background(), inside) // the upload, not the tar, waits on the store
	if a.wrap != nil && err == nil {
		err = a.wrap.Close()
	}
	if err == nil {
		err = a.upload.Commit()
	}
	return err
}

func (s *S3) archive(ctx context.Context, oid string) (*s3Archive, error) {
	if a := s.archives[oid]; a != nil {
		return a, nil
	}
	if s.finished[oid] {
		return nil, fmt.Errorf("writing to S3: a file of tablespace %s came after its archive was complete", oid)
	}
	name, strip, err := archiveName(oid)
	if err != nil {
		return nil, fmt.Errorf("writing to S3: %w", err)
	}
	name += s.opts.Ext
	up, err := s.opts.Store.Create(ctx, name, s.opts.Parts)
	if err != nil {
		return nil, fmt.Errorf("writing to S3: %w", err)
	}
	a := &s3Archive{upload: up}
	var w io.Writer = up
	if s.opts.Wrap != nil {
		if a.wrap, err = s.opts.Wrap(up); err != nil {
			up.Abort(s.opts.Warn)
			return nil, fmt.Errorf("writing to S3: %s: %w", name, err)
		}
		w = a.wrap
	}
	a.tar = newArchiveTar(w, oid, strip, s.opts.Append)
	s.archives[oid] = a
	return a, nil
}

// Close completes every archive (base.tar even when empty), then uploads manifest as
// backup_manifest; without Split the manifest is the stream's last member.
func (s *S3) Close(ctx context.Context, manifest []byte) error {
	if s.done {
		return errors.New("writing to S3: close after close or abort")
	}
	if _, err := s.archive(ctx, ""); err != nil {
		return err
	}
	inside := manifest
	if s.opts.Split {
		inside = nil
	}
	for _, oid := range slices.Sorted(maps.Keys(s.archives)) {
		if err := s.archives[oid].complete(inside); err != nil {
			return fmt.Errorf("writing to S3: %w", err)
		}
		delete(s.archives, oid)
	}
	if s.opts.Split && manifest != nil {
		up, err := s.opts.Store.Create(ctx, manifestName, s.opts.Parts)
		if err == nil {
			if _, err = up.Write(manifest); err == nil {
				err = up.Commit()
			}
			if err != nil {
				up.Abort(s.opts.Warn)
			}
		}
		if err != nil {
			return fmt.Errorf("writing to S3: %w", err)
		}
	}
	s.done = true
	return nil
}

// Abort aborts every upload not yet complete, so the store keeps no parts of it. Archives
// already complete stay; without backup_manifest they are no backup.
func (s *S3) Abort() error {
	if s.done {
		return nil
	}
	s.done = true
	var errs []error
	for _, a := range s.archives {
		a.tar.Abort()
		errs = append(errs, a.upload.Abort(s.opts.Warn))
		if a.wrap != nil {
			a.wrap.Close() // stops a compressor's goroutines; the aborted upload refuses its output
		}
	}
	return errors.Join(errs...)
}
