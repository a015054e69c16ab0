package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/s3store"
	"github.com/pgpull/pgpull/sinks"
)

// s3Flags are the settings of an s3:// DEST or PATH beyond what the AWS variables give.
type s3Flags struct {
	endpoint  string
	pathStyle bool
}

func (s *s3Flags) add(fs *pflag.FlagSet) {
	fs.StringVar(&s.endpoint, "s3-endpoint", "", "`URL` of an S3-compatible store for s3:// locations (default AWS_ENDPOINT_URL, else AWS S3)")
	fs.BoolVar(&s.pathStyle, "s3-path-style", false, "address buckets as ENDPOINT/BUCKET rather than BUCKET.ENDPOINT")
}

// open reaches the bucket of an s3://bucket/prefix location and checks it is there.
func (s s3Flags) open(ctx context.Context, location string) (*s3store.Store, error) {
	loc, err := s3store.ParseURL(location)
	if err != nil {
		return nil, err
	}
	return s3store.Open(ctx, s3store.Config{Endpoint: s.endpoint, PathStyle: s.pathStyle}, loc)
}

// objectDest is an s3:// DEST: the store, the part budget of its uploads, and where warnings go.
type objectDest struct {
	store  *s3store.Store
	parts  *s3store.Parts
	stderr io.Writer
	ctx    context.Context
}

// openStore checks the bucket of DEST before anything starts on the server; the uploads' part
// buffers share partBytes.
func (f backupFlags) openStore(ctx context.Context, dest string, partBytes int64, stderr io.Writer) (*objectDest, error) {
	store, err := f.s3.open(ctx, dest)
	if err != nil {
		return nil, err
	}
	return &objectDest{store: store, parts: s3store.NewParts(partBytes), stderr: &lineWriter{w: stderr}, ctx: ctx}, nil
}

func (o *objectDest) written() int64 { return o.parts.Sent() }

func (o *objectDest) sink(split bool, spec compress.Spec, procs int, appendTo map[string][]byte) sinks.Sink {
	return sinks.NewS3(o.ctx, sinks.S3Options{Store: o.store, Parts: o.parts, Split: split, Ext: spec.Ext(), Append: appendTo,
		Wrap: func(w io.Writer) (io.WriteCloser, error) { return compress.NewWriter(w, spec, procs) },
		Warn: func(msg string) { fmt.Fprintf(o.stderr, "pgpull: %s\n", msg) }})
}
