package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// runCLIOut runs the command in-process and returns its exit status, stdout and stderr.
func runCLIOut(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	t.Logf("pgpull %s -> %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return code, stdout.String(), stderr.String()
}

// TestCommandLine holds the command line to what a user of pg_basebackup and of other CLIs
// expects, on inputs that fail before any connection: each case's stderr is one line saying
// what is wrong and what to do.
func TestCommandLine(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "copy")
	// No server listens on a socket in this directory, so a case that got as far as connecting
	// would say "cannot connect" instead of its own problem.
	dsn := "host=" + t.TempDir() + " user=postgres"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
		code int
	}{
		{"flags after the arguments", nil, []string{"backup", dsn, dest, "-j", "0"}, "must be at least 1", 2},
		{"long flags after the arguments", nil, []string{"backup", dsn, "-", "--format=plain"}, "cannot go to stdout", 2},
		{"-Fp attached as pg_basebackup writes it", nil, []string{"backup", "-Fp", dsn, "-"}, "cannot go to stdout", 2},
		{"-Fx attached is read as -F x", nil, []string{"backup", "-Fx", dsn, dest}, `invalid format "x"`, 2},
		{"-D DEST with a DSN and a DEST", nil, []string{"backup", "-D", dest, dsn, dest}, "with -D DEST give at most DSN", 2},
		{"-X none", nil, []string{"backup", "-X", "none", dsn, dest}, "always puts the WAL", 2},
		{"-W without a terminal", nil, []string{"backup", "-W", dsn, dest}, "not one: give it with PGPASSWORD", 1},
		{"environment from the long name", map[string]string{"PGPULL_FORMAT": "plain"}, []string{"backup", dsn, "-"}, "cannot go to stdout", 2},
		{"a short name in the environment means nothing", map[string]string{"PGPULL_F": "tar", "PGPULL_D": "x"}, []string{"backup", "-Fx", dsn, dest}, `invalid format "x"`, 2},
		{"environment for a flag with a short name", map[string]string{"PGPULL_FORCE": "maybe"}, []string{"backup", dsn, dest}, "PGPULL_FORCE", 2},
		{"unknown command", nil, []string{"backp", dsn, dest}, `unknown command "backp" (did you mean backup?)`, 2},
		{"unknown flag", nil, []string{"backup", "--forse", dsn, dest}, "unknown flag --forse (did you mean --force?); see pgpull backup --help", 2},
		{"unknown short flag", nil, []string{"backup", "-Q", dsn, dest}, "unknown flag -Q", 2},
		{"flag before the command", nil, []string{"-j", "4", "backup"}, "a command comes first", 2},
		{"bad number", nil, []string{"backup", "-j", "four", dsn, dest}, `--jobs, -j "four"`, 2},
		{"malformed DSN", nil, []string{"backup", "port=notaport password=" + secret, dest}, "invalid DSN", 2},
		{"malformed DSN after -W", nil, []string{"backup", "-W", "postgres://u:" + secret + "@h:bad/db", dest}, "invalid DSN", 2},
		{"refused connection", nil, []string{"backup", "host=127.0.0.1 port=1 user=postgres password=" + secret, dest},
			"cannot connect to 127.0.0.1:1 as user postgres: connection refused; check that the server runs there", 1},
		{"missing socket", nil, []string{"backup", dsn, dest}, "cannot connect to socket ", 1},
		{"-T with a stream", nil, []string{"backup", "-T", "/old=/new", dsn, "-"}, "-T/--tablespace-mapping applies to the plain format only", 2},
		{"-T with -F tar", nil, []string{"backup", "-F", "tar", "-T", "/old=/new", dsn, dest}, "-T/--tablespace-mapping applies to the plain format only", 2},
		{"--refresh with a stream", nil, []string{"backup", "--refresh", dsn, "-"}, "--refresh updates a plain backup", 2},
		{"--refresh with -f", nil, []string{"backup", "--refresh", "-f", dsn, dest}, "exclude each other", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCLIOut(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q; want nothing", stdout)
			}
			checkOneLine(t, stderr, secret, "sink", "failed to connect", "`")
			if _, err := os.Stat(dest); !os.IsNotExist(err) {
				t.Errorf("failed run left %s (%v)", dest, err)
			}
		})
	}
}

// TestBadFlagsKeepSummary: flags that contradict each other are refused before --summary FILE
// is opened, so an earlier run's summary survives the mistake.
func TestBadFlagsKeepSummary(t *testing.T) {
	summary := filepath.Join(t.TempDir(), "summary.json")
	earlier := []byte(`{"earlier":"run"}` + "\n")
	if err := os.WriteFile(summary, earlier, 0o600); err != nil {
		t.Fatal(err)
	}
	dsn := "host=" + t.TempDir() + " user=postgres"
	code, _, stderr := runCLIOut(t, "backup", "--summary", summary, "--refresh", "-f", dsn, filepath.Join(t.TempDir(), "copy"))
	if code == 0 || !strings.Contains(stderr, "exclude each other") {
		t.Fatalf("exit %d, stderr %q; want the --refresh/-f refusal", code, stderr)
	}
	if got, err := os.ReadFile(summary); err != nil || !bytes.Equal(got, earlier) {
		t.Errorf("summary file now %q (%v); want the earlier run's %q", got, err, earlier)
	}
}

// TestEnvironmentNamesUnique holds every flag of every command to a long name and one
// environment variable of its own: PGPULL_F once stood for both -f and -F.
func TestEnvironmentNamesUnique(t *testing.T) {
	for _, cmd := range []*command{backupCommand(os.Stdin, nil, nil), verifyCommand(nil, nil, nil), grantsCommand(nil, nil, nil), walCommand(nil, nil), walGetCommand()} {
		seen := map[string]string{}
		cmd.flags.VisitAll(func(f *pflag.Flag) {
			env := envName(f.Name)
			if len(f.Name) < 2 {
				t.Errorf("pgpull %s: flag -%s has no long name", cmd.name, f.Name)
			}
			if other, ok := seen[env]; ok {
				t.Errorf("pgpull %s: --%s and --%s share %s", cmd.name, f.Name, other, env)
			}
			seen[env] = f.Name
		})
	}
}

// TestHelp: --help and -? succeed on stdout and show each flag once, long name first, with its
// default; -h is the host, as in pg_basebackup, so "backup -h" alone is a mistake that prints
// nothing on stdout (a nightly "pgpull backup -h ... - > base.tar" once stored the usage text).
func TestHelp(t *testing.T) {
	code, stdout, stderr := runCLIOut(t, "backup", "--help")
	if code != 0 || stderr != "" {
		t.Fatalf("backup --help: exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	for _, want := range []string{"--jobs, -j N ", "(default 4)", "--format, -F FORMAT", "--no-manifest ", "--write-recovery-conf, -R",
		"--password, -W", "--pgdata, -D DEST", "--wal-method, -X METHOD", "--host, -h HOST", "--dbname, -d CONNSTR",
		"--compress, -Z METHOD", "--gzip, -z", "--slot, -S SLOTNAME", "--help, -?", "PGPULL_JOBS"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("backup --help lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"jobs", "force", "format", "no-sync", "verbose", "show-sql", "host"} {
		if n := len(regexp.MustCompile(`--`+name+`\b`).FindAllString(stdout, -1)); n != 1 {
			t.Errorf("backup --help shows --%s %d times; want once", name, n)
		}
	}
	if strings.Contains(stdout, "=false") || regexp.MustCompile(`(?m)^\s+-[a-zA-Z]\b`).MatchString(stdout) {
		t.Errorf("backup --help shows flags in the flag package's form:\n%s", stdout)
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-?"}, {"help", "wal"}, {"wal", "--help"}, {"wal", "-?"}, {"backup", "-?"}, {"grants", "--help"}} {
		if code, stdout, _ := runCLIOut(t, args...); code != 0 || !strings.HasPrefix(stdout, "Usage: pgpull") {
			t.Errorf("pgpull %s: exit %d, stdout %q; want 0 and the usage", strings.Join(args, " "), code, stdout)
		}
	}
	for _, args := range [][]string{{"backup", "-h"}, {"wal", "-h"}, {"grants", "-h"}} {
		code, stdout, stderr := runCLIOut(t, args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, "-h HOST (help is --help or -?)") {
			t.Errorf("pgpull %s: exit %d, stdout %q, stderr %q; want %d, nothing on stdout, and -h HOST with the way to help",
				strings.Join(args, " "), code, stdout, stderr, exitUsage)
		}
		checkOneLine(t, stderr)
	}
}

// TestVersion builds pgpull and asks its version: the module version and the commit it was built
// from, as git names it.
func TestVersion(t *testing.T) {
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v (the test needs git and a checkout)", err)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	src := strings.TrimSpace(string(top))
	if st, err := os.Stat(filepath.Join(src, ".git")); err != nil || !st.IsDir() {
		// The go command stamps no revision in a git worktree (.git is a file there): build a
		// clone of HEAD instead.
		clone := filepath.Join(t.TempDir(), "clone")
		if out, err := exec.Command("git", "clone", "-q", "--shared", src, clone).CombinedOutput(); err != nil {
			t.Fatalf("git clone: %v\n%s", err, out)
		}
		src = clone
	}
	bin := filepath.Join(t.TempDir(), "pgpull")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/pgpull")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, arg := range []string{"--version", "-V"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("pgpull %s: %v", arg, err)
		}
		line := string(out)
		if !strings.HasPrefix(line, "pgpull v") && !strings.HasPrefix(line, "pgpull (devel)") || !strings.Contains(line, "revision "+strings.TrimSpace(string(head))) {
			t.Errorf("pgpull %s = %q; want the module version and revision %s", arg, line, head)
		}
	}
}

// TestURLIsNoPath: a DEST or PATH that looks like a URL fails in one line and creates nothing in
// the working directory ("s3://bk/run1" once became the directory ./s3:/bk/run1).
func TestURLIsNoPath(t *testing.T) {
	t.Chdir(t.TempDir())
	dsn := "host=" + t.TempDir() + " user=postgres"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"ftp DEST", []string{"backup", dsn, "ftp://host/run1"}, `DEST "ftp://host/run1" is a ftp:// URL`},
		{"-D with a URL", []string{"backup", "-D", "gs://bk/run1", dsn}, `DEST "gs://bk/run1" is a gs:// URL`},
		{"-F tar to a URL", []string{"backup", "-F", "tar", dsn, "file://x/y"}, "is a file:// URL"},
		{"verify a URL", []string{"verify", "https://example.com/b"}, "is a https:// URL"},
		{"wal to a URL", []string{"wal", dsn, "gs://bk/wal"}, `DIR "gs://bk/wal" is a gs:// URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLIOut(t, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tt.want)
			}
			checkOneLine(t, stderr, secret)
			if left, _ := os.ReadDir("."); len(left) != 0 {
				t.Errorf("the working directory holds %v afterwards; want nothing", left)
			}
		})
	}
}
