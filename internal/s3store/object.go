package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Put stores data as object name in one request, so that the object appears whole or not at all
// (S3 takes up to 5 GB so; a WAL segment is at most 1 GB), retried as every request is.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	key := s.loc.Key(name)
	err := retry(ctx, func(ctx context.Context) error {
		_, err := s.core.PutObject(ctx, s.loc.Bucket, key, bytes.NewReader(data), int64(len(data)), "", "",
			minio.PutObjectOptions{DisableMultipart: true})
		return err
	})
	if err != nil {
		return fmt.Errorf("storing %s (tried 5 times over 7.5 s): %w", s.url(key), s.requestError(err))
	}
	return nil
}

// NamesStarting lists the objects under the prefix whose name, relative to it, starts with start.
func (s *Store) NamesStarting(ctx context.Context, start string) ([]string, error) {
	prefix := s.loc.Key("")
	var names []string
	opts := minio.ListObjectsOptions{Prefix: prefix + start, Recursive: true}
	for obj := range s.core.Client.ListObjects(ctx, s.loc.Bucket, opts) {
		if obj.Err != nil {
			return nil, fmt.Errorf("listing %s: %s", s.loc, s.requestError(obj.Err))
		}
		names = append(names, strings.TrimPrefix(obj.Key, prefix))
	}
	return names, nil
}

// Transient reports whether err, from a request that was retried already, may still pass later:
// the store did not answer, or answered that it could not serve. A refusal (credentials, a
// missing bucket) will not.
func Transient(err error) bool {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return retryable(resp)
	}
	return retryable(err)
}

// NotFound reports whether err says the object does not exist.
func NotFound(err error) bool {
	var resp minio.ErrorResponse
	return errors.As(err, &resp) && (resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound)
}
