package walfeed

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/s3store"
)

// compressedExts are the suffixes an S3 archive's objects may carry: the file inside is
// compressed (pgpull wal-get reads each by its content).
func compressedExts() []string { return []string{".zst", ".gz"} }

// uncompressedName is the name of the file a stored object holds.
func uncompressedName(n string) string {
	for _, ext := range compressedExts() {
		if base, ok := strings.CutSuffix(n, ext); ok {
			return base
		}
	}
	return n
}

// s3Archive is a prefix of an S3 bucket: one object for each finished segment and history file,
// stored in one request once the file is whole, so that no object ever holds part of a segment
// under its final name. The segment being written is not stored.
type s3Archive struct {
	store *s3store.Store
	spec  compress.Spec
}

// NewS3Archive is the store's location, each file compressed by spec.
func NewS3Archive(store *s3store.Store, spec compress.Spec) Archive {
	return s3Archive{store: store, spec: spec}
}

func (a s3Archive) scan(ctx context.Context, segSize int64) (dirState, error) {
	names, err := a.store.Names(ctx)
	if err != nil {
		return dirState{}, err
	}
	return readNames(names, segSize), nil
}

// An S3 archive holds finished segments only, so it notes nothing; only a warm standby's feed
// asks, and that needs a directory.
func (s3Archive) noteWhole(context.Context, string) error         { return nil }
func (s3Archive) heldWhole(context.Context, string) (bool, error) { return false, nil }

func (a s3Archive) put(ctx context.Context, name string, data []byte, _ string) error {
	if a.spec.Algorithm != compress.None {
		var buf bytes.Buffer
		zw, err := compress.NewWriter(&buf, a.spec, 1)
		if err != nil {
			return err
		}
		if _, err := zw.Write(data); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compressing %s: %w", name, err)
		}
		name, data = name+a.spec.Ext(), buf.Bytes()
	}
	return a.store.Put(ctx, name, data)
}

func (s3Archive) keepsPartial() bool       { return false }
func (s3Archive) transient(err error) bool { return s3store.Transient(err) }
func (a s3Archive) String() string         { return a.store.Location().String() }
