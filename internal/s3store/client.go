package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Config is what the command line says of the store; Resolve adds the AWS variables and files.
type Config struct {
	// Endpoint is the store's URL (https://host:port); "" leaves it to Resolve.
	Endpoint string
	// PathStyle addresses buckets as host/bucket instead of bucket.host.
	PathStyle bool
	// Transport, when set, carries the requests (tests put faults into it).
	Transport http.RoundTripper
}

// Store is one bucket of an S3-compatible store, reached with minio-go's low-level Core API so
// that pgpull owns the part buffers and their retries.
type Store struct {
	core     minio.Core
	loc      Location
	endpoint string
}

// Open makes the client and checks that the bucket is there and the credentials are accepted,
// so that a mistake shows before anything starts on the database server.
func Open(ctx context.Context, cfg Config, loc Location) (*Store, error) {
	set, err := Resolve(cfg, os.Getenv)
	if err != nil {
		return nil, err
	}
	endpoint := set.Endpoint
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("S3 endpoint %q is not an http:// or https:// URL: give --s3-endpoint https://host:port", endpoint)
	}
	lookup := minio.BucketLookupAuto
	if set.PathStyle {
		lookup = minio.BucketLookupPath
	}
	opts := &minio.Options{
		Creds:        set.Creds,
		Secure:       u.Scheme == "https",
		Region:       set.Region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
		// pgpull retries each request itself (retry.go), keeping the part's bytes until it is sent.
		MaxRetries: 1,
	}
	client, err := minio.New(u.Host, opts)
	if err != nil {
		return nil, fmt.Errorf("S3 client for %s: %w", endpoint, err)
	}
	s := &Store{core: minio.Core{Client: client}, loc: loc, endpoint: endpoint}
	if err := s3utils.CheckValidBucketName(loc.Bucket); err != nil {
		// The AWS CLI would send the name; minio-go, which pgpull is built on, refuses it here.
		return nil, fmt.Errorf("bucket %q: the S3 client pgpull is built on (minio-go) does not take this name: %v", loc.Bucket, err)
	}
	err = retry(ctx, func(ctx context.Context) error {
		ok, err := client.BucketExists(ctx, loc.Bucket)
		if err == nil && !ok {
			return permanent{errNoBucket}
		}
		return err
	})
	if err != nil {
		return nil, s.explain(err)
	}
	return s, nil
}

var errNoBucket = errors.New("no such bucket")

// explain words a failed bucket check as one line naming the way out.
func (s *Store) explain(err error) error {
	code := minio.ToErrorResponse(errors.Unwrap(err)).Code
	if code == "" {
		code = minio.ToErrorResponse(err).Code
	}
	switch {
	case errors.Is(err, errNoBucket) || code == "NoSuchBucket":
		return fmt.Errorf("bucket %q does not exist at %s: create it, or name another in s3://bucket/prefix", s.loc.Bucket, s.endpoint)
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AccessDenied" ||
		code == "InvalidToken" || code == "ExpiredToken" || strings.Contains(err.Error(), "Access Denied"):
		return fmt.Errorf("the store at %s refused the credentials for bucket %q (%s): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_PROFILE", s.endpoint, s.loc.Bucket, code)
	}
	return fmt.Errorf("cannot reach bucket %q at %s: %v; check --s3-endpoint and the network", s.loc.Bucket, s.endpoint, err)
}

// Location is where the store's objects go.
func (s *Store) Location() Location { return s.loc }
