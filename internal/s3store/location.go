// Package s3store reads and writes a backup's objects in an S3-compatible store: where they go
// (s3://bucket/prefix), the client configured as the AWS tools configure theirs, multipart
// uploads with parts sent in parallel from bounded buffers, and reading objects back.
package s3store

import (
	"fmt"
	"strings"
)

// Location is s3://Bucket/Prefix: the backup's objects are Prefix + "/" + name.
type Location struct {
	Bucket string
	Prefix string // without leading or trailing slashes; "" for the bucket's top
}

// ParseURL reads s3://bucket[/prefix].
func ParseURL(u string) (Location, error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return Location{}, fmt.Errorf("%q is not an s3://bucket/prefix URL", u)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	prefix = strings.Trim(prefix, "/")
	if bucket == "" {
		return Location{}, fmt.Errorf("%q names no bucket: use s3://bucket/prefix", u)
	}
	if !validBucket(bucket) {
		return Location{}, fmt.Errorf("%q is no S3 bucket name: use up to 255 letters, digits, dots, hyphens and underscores", bucket)
	}
	if strings.Contains(prefix, "//") {
		return Location{}, fmt.Errorf("%q has an empty path element: use s3://bucket/prefix", u)
	}
	return Location{Bucket: bucket, Prefix: prefix}, nil
}

// Key is the object name of a backup file called name.
func (l Location) Key(name string) string {
	if l.Prefix == "" {
		return name
	}
	return l.Prefix + "/" + name
}

func (l Location) String() string {
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

// validBucket checks no more than the AWS CLI does (botocore's ^[a-zA-Z0-9.\-_]{1,255}$): what
// else a store allows, it says itself.
func validBucket(b string) bool {
	if len(b) < 1 || len(b) > 255 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
