package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/pgpull/pgpull/internal/s3store"
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

// config is the store's settings beyond what the AWS variables give.
func (s s3Flags) config() s3store.Config {
	return s3store.Config{Endpoint: s.endpoint, PathStyle: s.pathStyle}
}

// open reaches the bucket of an s3://bucket/prefix location and checks it is there.
func (s s3Flags) open(ctx context.Context, location string) (*s3store.Store, error) {
	loc, err := s3store.ParseURL(location)
	if err != nil {
		return nil, err
	}
	return s3store.Open(ctx, s.config(), loc)
}
