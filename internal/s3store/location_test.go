package s3store

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		bucket  string
		prefix  string
		key     string // Key("base.tar")
		wantErr string
	}{
		{"s3://bkt/run1", "bkt", "run1", "run1/base.tar", ""},
		{"s3://bkt/a/b/", "bkt", "a/b", "a/b/base.tar", ""},
		{"s3://bkt", "bkt", "", "base.tar", ""},
		{"s3://my-backups.2026/", "my-backups.2026", "", "base.tar", ""},
		{"s3:///x", "", "", "", "names no bucket"},
		{"s3://bk/x", "bk", "x", "x/base.tar", ""},
		{"s3://Backups/x", "Backups", "x", "x/base.tar", ""},
		{"s3://b_kt/x", "b_kt", "x", "x/base.tar", ""},
		{"s3://b%20kt/x", "", "", "", "no S3 bucket name"},
		{"s3://b:kt/x", "", "", "", "no S3 bucket name"},
		{"s3://bkt/a//b", "", "", "", "empty path element"},
		{"gs://bk/x", "", "", "", "not an s3://"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			loc, err := ParseURL(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURL(%q) = %v, %v; want error %q", tt.in, loc, err, tt.wantErr)
				}
				return
			}
			if err != nil || loc.Bucket != tt.bucket || loc.Prefix != tt.prefix || loc.Key("base.tar") != tt.key {
				t.Fatalf("ParseURL(%q) = %+v (key %q), %v; want %s %s %s", tt.in, loc, loc.Key("base.tar"), err, tt.bucket, tt.prefix, tt.key)
			}
		})
	}
}

// FuzzParseURL: whatever is accepted names a bucket, and its keys never start with "/" nor hold "//".
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"s3://bk/run1", "s3://bk", "s3:///", "s3://b//", "s3://b/a/../c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		loc, err := ParseURL(s)
		if err != nil {
			return
		}
		k := loc.Key("base.tar")
		if loc.Bucket == "" || strings.HasPrefix(k, "/") || strings.Contains(k, "//") {
			t.Fatalf("ParseURL(%q) = %+v, key %q", s, loc, k)
		}
	})
}
