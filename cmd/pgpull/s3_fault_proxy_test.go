package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// s3Request is the kind of an S3 request, as the fault proxy tells them apart.
type s3Request string

const (
	s3Part     s3Request = "part"     // PUT ?partNumber=N&uploadId=...
	s3Complete s3Request = "complete" // POST ?uploadId=...
	s3Other    s3Request = "other"
)

// s3Fault is what the proxy does to a request.
type s3Fault int

const (
	s3Pass s3Fault = iota
	// s3Reset reads half the request's body, then resets the connection (RST), as a link or a
	// load balancer that drops it in the middle of a part does.
	s3Reset
	// s3Refuse answers 500 InternalError without passing the request on.
	s3Refuse
	// s3DoneButRefused passes the request on, then answers 500 whatever the store said: the store
	// did it, the client hears that it failed.
	s3DoneButRefused
	// s3Gone answers 404 NoSuchUpload without passing the request on, as a store does to a
	// completion it has already made.
	s3Gone
)

// s3FaultProxy is an HTTP proxy in front of the S3 test server that applies rule to each request:
// rule gets the request's kind, its object key, and how many of that kind for that key came
// before it (0 for the first).
type s3FaultProxy struct {
	Endpoint string
	rule     func(kind s3Request, key string, nth int) s3Fault
	upstream *httputil.ReverseProxy

	mu   sync.Mutex
	seen map[string]int // by kind and key
}

func startS3FaultProxy(t *testing.T, store string, rule func(kind s3Request, key string, nth int) s3Fault) *s3FaultProxy {
	t.Helper()
	u, err := url.Parse(store)
	if err != nil {
		t.Fatal(err)
	}
	p := &s3FaultProxy{rule: rule, upstream: httputil.NewSingleHostReverseProxy(u), seen: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.Endpoint = srv.URL
	return p
}

// Seen is how many requests of kind came for key.
func (p *s3FaultProxy) Seen(kind s3Request, key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[string(kind)+" "+key]
}

func kindOf(r *http.Request) s3Request {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && q.Has("partNumber"):
		return s3Part
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return s3Complete
	}
	return s3Other
}

func (p *s3FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	kind := kindOf(r)
	p.mu.Lock()
	nth := p.seen[string(kind)+" "+r.URL.Path]
	p.seen[string(kind)+" "+r.URL.Path]++
	p.mu.Unlock()
	switch p.rule(kind, r.URL.Path, nth) {
	case s3Pass:
		p.upstream.ServeHTTP(w, r)
	case s3Reset:
		_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength/2)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // close with a reset, not a goodbye
		}
		conn.Close()
	case s3Refuse:
		_, _ = io.Copy(io.Discard, r.Body)
		refuseS3(w)
	case s3DoneButRefused:
		p.upstream.ServeHTTP(httptest.NewRecorder(), r)
		refuseS3(w)
	case s3Gone:
		_, _ = io.Copy(io.Discard, r.Body)
		s3Error(w, http.StatusNotFound, "NoSuchUpload")
	}
}

func refuseS3(w http.ResponseWriter) { s3Error(w, http.StatusInternalServerError, "InternalError") }

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "<Error><Code>"+code+"</Code><Message>injected by the test</Message></Error>")
}
