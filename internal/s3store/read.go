package s3store

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Names lists the objects under the prefix, by name relative to it.
func (s *Store) Names(ctx context.Context) ([]string, error) {
	prefix := s.loc.Key("")
	var names []string
	for obj := range s.core.Client.ListObjects(ctx, s.loc.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("listing %s: %w", s.loc, obj.Err)
		}
		names = append(names, strings.TrimPrefix(obj.Key, prefix))
	}
	return names, nil
}

// Open streams the object called name.
func (s *Store) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	key := s.loc.Key(name)
	var body io.ReadCloser
	err := retry(ctx, func(ctx context.Context) (err error) {
		body, _, _, err = s.core.GetObject(ctx, s.loc.Bucket, key, minio.GetObjectOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.url(key), err)
	}
	return body, nil
}

// OpenUploads lists the multipart uploads under the prefix that were neither completed nor
// aborted, by object key.
func (s *Store) OpenUploads(ctx context.Context) ([]string, error) {
	var keys []string
	for u := range s.core.Client.ListIncompleteUploads(ctx, s.loc.Bucket, s.loc.Key(""), true) {
		if u.Err != nil {
			return nil, fmt.Errorf("listing the uploads under %s: %w", s.loc, u.Err)
		}
		keys = append(keys, u.Key)
	}
	return keys, nil
}

// UploadedParts counts the parts the store holds of the open upload of object name.
func (s *Store) UploadedParts(ctx context.Context, name string) (int, error) {
	key := s.loc.Key(name)
	res, err := s.core.ListMultipartUploads(ctx, s.loc.Bucket, key, "", "", "", 10)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range res.Uploads {
		if u.Key != key {
			continue
		}
		parts, err := s.core.ListObjectParts(ctx, s.loc.Bucket, key, u.UploadID, 0, 1000)
		if err != nil {
			return 0, err
		}
		n += len(parts.ObjectParts)
	}
	return n, nil
}
