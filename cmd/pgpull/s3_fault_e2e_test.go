package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestS3Faults puts a fault proxy between pgpull and the S3 test server. A fault a retry mends (a
// part refused with a 500, a connection reset in the middle of a part, a refused CompleteMultipartUpload, a completion done
// but answered with a 500) leaves a backup verify accepts; one that persists fails the backup with
// one line naming the object, no upload left open, no object that passes for a backup, and nothing
// of pgpull on the server.
func TestS3Faults(t *testing.T) {
	srv := s3Store(t)
	src := clusterWith46MB(t)
	onKey := func(kind s3Request, name string, fault s3Fault, times int) func(s3Request, string, int) s3Fault {
		return func(k s3Request, key string, nth int) s3Fault {
			if k == kind && strings.HasSuffix(key, "/"+name) && (times < 0 || nth < times) {
				return fault
			}
			return s3Pass
		}
	}
	const always = -1
	tests := []struct {
		name    string
		split   bool // -F tar: archives, then backup_manifest
		rule    func(s3Request, string, int) s3Fault
		seen    s3Request // the kind of request the fault hit, and (with ok) was sent again
		ok      bool
		wantErr string   // in the failure's last line; LOCATION is the backup's s3:// location, ENDPOINT the proxy's
		left    []string // objects a failure leaves, none looking like a whole backup
	}{
		{name: "part refused once", rule: onKey(s3Part, "base.tar", s3Refuse, 1), seen: s3Part, ok: true},
		{name: "connection reset mid-part, once", rule: onKey(s3Part, "base.tar", s3Reset, 1), seen: s3Part, ok: true},
		{name: "connection reset mid-part, every time", rule: onKey(s3Part, "base.tar", s3Reset, always), seen: s3Part,
			wantErr: " of LOCATION/base.tar (tried 5 times over 7.5 s): the connection to the store at ENDPOINT broke in the middle of the request"},
		{name: "complete refused once", rule: onKey(s3Complete, "base.tar", s3Refuse, 1), seen: s3Complete, ok: true},
		{name: "complete done but answered 500", rule: onKey(s3Complete, "base.tar", s3DoneButRefused, 1), seen: s3Complete, ok: true},
		// As a store that forgets a completed upload answers the retry: the object is there whole.
		{name: "complete done but answered 500, then NoSuchUpload", seen: s3Complete, ok: true,
			rule: func(k s3Request, key string, nth int) s3Fault {
				if k != s3Complete || !strings.HasSuffix(key, "/base.tar") {
					return s3Pass
				}
				return map[bool]s3Fault{true: s3DoneButRefused, false: s3Gone}[nth == 0]
			}},
		{name: "complete refused every time", rule: onKey(s3Complete, "base.tar", s3Refuse, always), seen: s3Complete,
			wantErr: "completing the upload of LOCATION/base.tar: the store at ENDPOINT answered 500 InternalError"},
		{name: "-F tar: backup_manifest's complete refused every time", split: true,
			rule: onKey(s3Complete, "backup_manifest", s3Refuse, always), seen: s3Complete,
			wantErr: "completing the upload of LOCATION/backup_manifest: the store at ENDPOINT answered 500 InternalError",
			left:    []string{"base.tar"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := startS3FaultProxy(t, srv.Endpoint(), tt.rule)
			prefix := fmt.Sprintf("faults-%d", i)
			location := "s3://" + s3Bucket + "/" + prefix
			args := []string{"backup", "-c", "fast", "--s3-endpoint", proxy.Endpoint}
			faulted := "base.tar"
			if tt.split {
				args, faulted = append(args, "-F", "tar"), "backup_manifest"
			}
			code, stderr := pgpull(t, nil, append(args, src.DSN(), location)...)
			if n := proxy.Seen(tt.seen, "/"+s3Bucket+"/"+prefix+"/"+faulted); n < 2 {
				t.Errorf("%d %s requests for %s; want the fault hit and the request sent again", n, tt.seen, faulted)
			}
			if tt.ok {
				if code != 0 {
					t.Fatalf("backup through the fault failed (%d): %s", code, stderr)
				}
				s3Verify(t, srv.Endpoint(), location)
				return
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			want := strings.NewReplacer("LOCATION", location, "ENDPOINT", proxy.Endpoint).Replace(tt.wantErr)
			if code == 0 || !strings.Contains(last, want) || !strings.Contains(last, "take the backup again") {
				t.Errorf("exit %d, last line %q; want a failure saying %q and the way out", code, last, want)
			}
			checkOneLine(t, last, s3Secret)
			st := s3Open(t, srv.Endpoint(), location)
			open, err := st.OpenUploads(context.Background())
			if err != nil || len(open) != 0 {
				t.Errorf("uploads left open: %v (%v); want none", open, err)
			}
			s3Names(t, st, tt.left...)
			if len(tt.left) > 0 {
				if code, stderr := pgpull(t, nil, "verify", "--s3-endpoint", srv.Endpoint(), location); code == 0 || !strings.Contains(stderr, "unfinished") {
					t.Errorf("verify of what the failed backup left: exit %d, %q; want it named unfinished", code, stderr)
				}
			}
			checkServerClean(t, src)
		})
	}
}
