package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVerifyKilledBackup: a backup killed in the middle of the copy is named unfinished by
// verify, which says how to complete it; doing what it says gives a backup verify accepts.
func TestVerifyKilledBackup(t *testing.T) {
	src := clusterWith46MB(t)
	bin := buildPgpull(t)
	tests := []struct {
		name    string
		flags   []string
		started func(dest string) bool // the copy has begun writing dest
		advice  string                 // what verify says to run, DSN for the DSN
	}{
		{"plain", nil, func(dest string) bool {
			files, _ := filepath.Glob(filepath.Join(dest, "base", "*", "*"))
			return len(files) > 0
		}, "pgpull backup --refresh DSN "},
		{"-F tar", []string{"-F", "tar"}, func(dest string) bool {
			st, err := os.Stat(filepath.Join(dest, "base.tar"))
			return err == nil && st.Size() > 1<<20
		}, "pgpull backup -f -F tar DSN "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "dest")
			cmd := exec.Command(bin, append(append([]string{"backup", "-c", "fast", "-r", "4M"}, tt.flags...), src.DSN(), dest)...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, time.Minute, "the copy writing "+dest, func() bool { return tt.started(dest) })
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()

			r := pgpullVerify(t, nil, dest)
			advice := tt.advice + dest
			if r.code == 0 || !strings.Contains(r.stderr, dest+" is an unfinished pgpull backup") || !strings.Contains(r.stderr, advice) {
				t.Fatalf("verify of the killed backup: exit %d, stderr %q; want a failure naming it unfinished and saying `%s`", r.code, r.stderr, advice)
			}
			checkOneLine(t, r.stderr)

			args := strings.Fields(strings.TrimPrefix(advice, "pgpull "))
			for i, a := range args {
				if a == "DSN" {
					args[i] = src.DSN()
				}
			}
			if code, stderr := runCLI(t, nil, append(args[:len(args)-1], dest)...); code != 0 {
				t.Fatalf("%s failed (%d): %s", advice, code, stderr)
			}
			if r := pgpullVerify(t, nil, dest); r.code != 0 {
				t.Errorf("verify after `%s`: exit %d, %s%s", advice, r.code, r.stdout, r.stderr)
			}
		})
	}
}
