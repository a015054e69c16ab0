package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// Stat gives the size of object name and its ETag, which ReadRange then requires: ranges of an
// object replaced in the middle of a read would not fit together.
func (s *Store) Stat(ctx context.Context, name string) (size int64, etag string, err error) {
	key := s.loc.Key(name)
	var info minio.ObjectInfo
	err = retry(ctx, func(ctx context.Context) (err error) {
		info, err = s.core.Client.StatObject(ctx, s.loc.Bucket, key, minio.StatObjectOptions{})
		return err
	})
	if err != nil {
		return 0, "", fmt.Errorf("reading %s (tried 5 times over 7.5 s): %w", s.url(key), s.requestError(err))
	}
	return info.Size, info.ETag, nil
}

// ReadRange fills p with the bytes of object name from off on, in one ranged GET retried as
// every request is, the body included: a connection broken in the middle reads the range again.
// etag, when set, is the object's as Stat gave it; a changed object is refused.
func (s *Store) ReadRange(ctx context.Context, name, etag string, off int64, p []byte) error {
	key := s.loc.Key(name)
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(off, off+int64(len(p))-1); err != nil {
		return err
	}
	if etag != "" {
		if err := opts.SetMatchETag(etag); err != nil {
			return err
		}
	}
	err := retry(ctx, func(ctx context.Context) error {
		body, _, _, err := s.core.GetObject(ctx, s.loc.Bucket, key, opts)
		if err != nil {
			return err // a refusal (412: the object changed, 404) is not retried
		}
		defer body.Close()
		if _, err := io.ReadFull(body, p); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // a range cut short is a broken read, worth another
			}
			return err
		}
		return nil
	})
	if err == nil {
		return nil
	}
	if minio.ToErrorResponse(err).Code == "PreconditionFailed" {
		return fmt.Errorf("reading %s: the object changed while it was read (its ETag is no longer %s): restore it again", s.url(key), etag)
	}
	return fmt.Errorf("reading %s, bytes %d to %d (tried 5 times over 7.5 s): %w", s.url(key), off, off+int64(len(p)), s.requestError(err))
}
