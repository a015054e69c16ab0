package main

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupJobsDefault: without -j, a backup of a server on this machine (its Unix socket or
// 127.0.0.1) runs as many fetch connections as the machine has CPUs, 2 to 4, and -v says so; one
// whose round trip says it is far, whatever its address, runs 8; -j or PGPULL_JOBS sets the count
// instead.
func TestBackupJobsDefault(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	local := fmt.Sprintf("-j %d: the server is on this machine", localJobs(runtime.NumCPU()))
	far := fmt.Sprintf("-j %d: the server is ", farJobs)
	link := startFarLink(t, fmt.Sprintf("127.0.0.1:%d", src.Port), 15*time.Millisecond)
	linkDSN := strings.Replace(src.TCPDSN(), fmt.Sprintf("port=%d", src.Port), fmt.Sprintf("port=%d", link.Port()), 1)
	for _, tc := range []struct {
		name, dsn, env string
		args           []string
		defaulted      bool
		far            string // "yes", "no", or "" where the machine's load may tell either way
	}{
		{"unix socket", src.DSN(), "", nil, true, "no"},
		{"127.0.0.1", src.TCPDSN(), "", nil, true, ""},
		{"127.0.0.1 behind a 15 ms link", linkDSN, "", nil, true, "yes"},
		{"-j 3 behind a 15 ms link", linkDSN, "", []string{"-j", "3"}, false, "no"},
		{"-j 3", src.DSN(), "", []string{"-j", "3"}, false, "no"},
		{"PGPULL_JOBS=3", src.DSN(), "3", nil, false, "no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("PGPULL_JOBS", tc.env)
			}
			args := append(append([]string{"backup", "-c", "fast", "-v"}, tc.args...), tc.dsn, filepath.Join(t.TempDir(), "copy"))
			code, stderr := pgpull(t, nil, args...)
			if code != 0 {
				t.Fatalf("backup failed (%d): %s", code, stderr)
			}
			if got := strings.Contains(stderr, local); got != tc.defaulted {
				t.Errorf("-v says %q: %v; want %v", local, got, tc.defaulted)
			}
			if got := strings.Contains(stderr, far) && strings.Contains(stderr, " ms away (a round trip)"); tc.far != "" && got != (tc.far == "yes") {
				t.Errorf("-v says %q...ms away: %v; want %s:\n%s", far, got, tc.far, stderr)
			}
		})
	}
}
