package main

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupJobsDefault: without -j, a backup of a server on this machine (its Unix socket or
// 127.0.0.1) runs as many fetch connections as the machine has CPUs, 2 to 4, and -v says so;
// -j or PGPULL_JOBS sets the count instead.
func TestBackupJobsDefault(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	local := fmt.Sprintf("-j %d: the server is on this machine", localJobs(runtime.NumCPU()))
	for _, tc := range []struct {
		name, dsn, env string
		args           []string
		defaulted      bool
	}{
		{"unix socket", src.DSN(), "", nil, true},
		{"127.0.0.1", src.TCPDSN(), "", nil, true},
		{"-j 3", src.DSN(), "", []string{"-j", "3"}, false},
		{"PGPULL_JOBS=3", src.DSN(), "3", nil, false},
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
		})
	}
}
