package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"
)

// TestRetryable: what the network or a busy store does is tried again; what the store refused
// and what the client rejected before sending is not, so a bad name fails at once.
func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &url.Error{Op: "Put", URL: "http://x", Err: syscall.ECONNREFUSED}, true},
		{"cut short", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), true},
		{"503", minio.ErrorResponse{StatusCode: 503, Code: "ServiceUnavailable"}, true},
		{"500 InternalError", minio.ErrorResponse{StatusCode: 500, Code: "InternalError"}, true},
		{"throttled", minio.ErrorResponse{StatusCode: 429}, true},
		{"SlowDown", minio.ErrorResponse{StatusCode: 400, Code: "SlowDown"}, true},
		{"refused credentials", minio.ErrorResponse{StatusCode: 403, Code: "AccessDenied"}, false},
		{"no bucket", minio.ErrorResponse{StatusCode: 404, Code: "NoSuchBucket"}, false},
		{"rejected by the client", minio.ErrorResponse{Code: "InvalidBucketName", Message: "Bucket name cannot be shorter than 3 characters"}, false},
		{"permanent", permanent{errors.New("no such bucket")}, false},
		{"canceled", fmt.Errorf("put: %w", context.Canceled), false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("%s: retryable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestRequestError: a failed request is worded by what the store did, with its endpoint and not
// the request's URL, which carries the upload's id.
func TestRequestError(t *testing.T) {
	s := &Store{endpoint: "http://store:9000"}
	urlErr := func(err error) error {
		return &url.Error{Op: "Put", URL: "http://store:9000/b/k?uploadId=xyz", Err: err}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused", urlErr(syscall.ECONNREFUSED), "the store at http://store:9000 did not answer: connection refused"},
		{"reset mid-request", urlErr(fmt.Errorf("write: %w", syscall.ECONNRESET)),
			"the connection to the store at http://store:9000 broke in the middle of the request: write: connection reset by peer"},
		{"cut short", urlErr(io.ErrUnexpectedEOF), "the connection to the store at http://store:9000 broke in the middle of the request: unexpected EOF"},
		{"error answer", minio.ErrorResponse{StatusCode: 500, Code: "InternalError", Message: "We encountered an internal error"},
			"the store at http://store:9000 answered 500 InternalError: We encountered an internal error"},
	}
	for _, tt := range tests {
		if got := s.requestError(tt.err).Error(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
