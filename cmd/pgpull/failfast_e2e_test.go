package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestImpossibleDestFailsFast: a DEST that cannot be written fails before the server is touched,
// with the default spread checkpoint (which could keep a started backup waiting for minutes):
// the server logs no connection from the run. The message names the full path, and nothing is
// left on the server. The unwritable cases run pgpull as the postgres user when the test runs as
// root, who may write anywhere.
func TestImpossibleDestFailsFast(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Conf: []string{"log_connections = on"}})
	shared, err := os.MkdirTemp(testcluster.Scratch(), "pgpull-dest-") // reachable by the postgres user, writable by the owner only
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(shared, "pgpull") // where the postgres user can run it
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	file := filepath.Join(shared, "a-file")
	full := filepath.Join(shared, "full")
	empty := filepath.Join(shared, "empty")
	for _, d := range []string{full, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{file, filepath.Join(full, "mine")} {
		if err := os.WriteFile(f, []byte("mine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		dest      string
		other     bool // run as another user than the directories' owner
		want      string
		untouched string // must not exist afterwards, "" for none
	}{
		{"below a file", filepath.Join(file, "copy"), false, "cannot create destination " + filepath.Join(file, "copy") + ": " + file + " is not a directory", ""},
		{"a file", file, false, "destination " + file + " exists and is not a directory", ""},
		{"not empty", full, false, `destination directory "` + full + `" exists and is not empty`, ""},
		{"-F tar below a file", filepath.Join(file, "tar"), false, file + " is not a directory", ""},
		{"in a directory not writable", filepath.Join(shared, "copy"), true, "cannot create destination " + filepath.Join(shared, "copy") + ": cannot write into " + shared, filepath.Join(shared, "copy")},
		{"an empty directory not writable", empty, true, "cannot write into destination " + empty, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"backup", src.DSN(), tt.dest}
			if strings.HasPrefix(tt.name, "-F tar") {
				args = append(args, "-F", "tar")
			}
			cmd := exec.Command(bin, args...)
			if tt.other && os.Geteuid() == 0 {
				cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
			} else if tt.other {
				if err := os.Chmod(filepath.Dir(tt.dest), 0o555); err != nil {
					t.Fatal(err)
				}
				defer os.Chmod(filepath.Dir(tt.dest), 0o755)
			}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			before := connectionsLogged(t, src)
			err := cmd.Run()
			code := cmd.ProcessState.ExitCode()
			t.Logf("pgpull %s -> %d (%v)\n%s", strings.Join(args, " "), code, err, stderr.String())
			if code != 1 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr.String(), tt.want)
			}
			if after := connectionsLogged(t, src); after != before {
				t.Errorf("the server logged %d connections during the run; want none, the failure before the server is asked anything", after-before)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q; want nothing", stdout.String())
			}
			checkOneLine(t, stderr.String())
			if tt.untouched != "" {
				checkGone(t, tt.untouched)
			}
			checkServerClean(t, src)
		})
	}
	if left, _ := os.ReadDir(empty); len(left) != 0 {
		t.Errorf("the empty directory holds %v afterwards", left)
	}
	if connectionsLogged(t, src) == 0 { // checkServerClean's own: the count above can see one
		t.Errorf("the server log holds no connection; log_connections did not take, and the check above proves nothing")
	}
}

// connectionsLogged counts the connections the server has logged (log_connections).
func connectionsLogged(t *testing.T, c *testcluster.Cluster) int {
	t.Helper()
	log, err := os.ReadFile(c.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(log), "connection received")
}

// TestNoPasswordGiven: a server that asks for a password, and none given anywhere, is said so,
// not as "password authentication failed", which blames a password never sent.
func TestNoPasswordGiven(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{})
	requirePassword(t, src, "pw_user", secret)
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
	dest := filepath.Join(t.TempDir(), "copy")
	code, stderr := runCLI(t, nil, "backup", "-h", "127.0.0.1", "-p", strconv.Itoa(src.Port), "-U", "pw_user", "-d", "postgres", dest)
	if code != 1 || !strings.Contains(stderr, "the server asks for a password and none was given") ||
		strings.Contains(stderr, "password authentication failed") {
		t.Errorf("exit %d, stderr %q; want exit 1 saying no password was given", code, stderr)
	}
	checkOneLine(t, stderr)
	checkGone(t, dest)
}
