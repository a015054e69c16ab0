package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
)

// retryDelays are the waits between attempts of one request: five attempts over about 7.5 s
// (messages say so: keep them in step),
// enough for a store's restart or a load balancer's hiccup, short enough to fail a backup
// whose store went away.
var retryDelays = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}

// permanent marks an error no retry can cure.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// retry runs op until it succeeds, fails permanently, or the attempts are spent.
func retry(ctx context.Context, op func(context.Context) error) error {
	return retryWith(ctx, retryDelays, op)
}

func retryWith(ctx context.Context, delays []time.Duration, op func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		err := op(ctx)
		if err == nil || !retryable(err) || attempt == len(delays) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delays[attempt]):
		}
	}
}

// requestError says what the store did with a failed request: no answer, a connection broken in
// the middle, or its error answer with the status and code. The request's URL (with the upload's
// id) says less to the user than the endpoint and the cause.
func (s *Store) requestError(err error) error {
	var ue *url.Error
	resp := minio.ToErrorResponse(err)
	switch {
	case errors.As(err, &ue) && resp.StatusCode == 0 && broken(ue.Err):
		return fmt.Errorf("the connection to the store at %s broke in the middle of the request: %w", s.endpoint, ue.Err)
	case ue != nil && resp.StatusCode == 0:
		return fmt.Errorf("the store at %s did not answer: %w", s.endpoint, ue.Err)
	case resp.StatusCode != 0:
		return fmt.Errorf("the store at %s answered %d %s: %w", s.endpoint, resp.StatusCode, resp.Code, err)
	}
	return err
}

// broken tells a connection that was open and then failed from one never made.
func broken(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// retryable tells errors worth another attempt: no answer (the connection failed or broke), the
// server's 5xx, throttling and timeouts. A refusal (credentials, missing bucket, bad request)
// stays refused, as does what the client itself rejects.
func retryable(err error) bool {
	var p permanent
	if errors.As(err, &p) || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests:
		return true
	}
	return resp.Code == "RequestTimeout" || resp.Code == "SlowDown" || resp.Code == "InternalError"
}
