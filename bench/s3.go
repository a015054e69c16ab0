package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/pgpull/pgpull/bench/weed"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// s3Settings are the s3 command's flags.
type s3Settings struct {
	compress string
	scenarioFlags
}

func s3Command(stdout, stderr io.Writer) *ffcli.Command {
	var s s3Settings
	cmd := newSubcommand("s3", "time pgpull writing to a local S3 store (weed) beside a tar stream piped into aws s3 cp - and one to /dev/null",
		stderr, func(ctx context.Context) error { return runS3Bench(ctx, s, stdout, stderr) })
	s.register(cmd.FlagSet, scenarioFlagSpec{section: "s3", scale: 30, scaleSize: "450 MB", jobs: "pgpull -j", rounds: "runs of each form, taken in turn"})
	cmd.FlagSet.StringVar(&s.compress, "compress", "none", "pgpull -Z")
	return cmd
}

const (
	s3BenchBucket = "bench"
	s3BenchKey    = "bench-key"
	s3BenchSecret = "bench-secret"
)

// startBenchStore starts weed in the work directory, with the bench's bucket and key.
func startBenchStore(ctx context.Context, w *workDir) (*weed.Server, error) {
	if err := os.Mkdir(w.join("weed"), 0o700); err != nil {
		return nil, err
	}
	return weed.Start(ctx, w.join("weed"), weed.Options{Bucket: s3BenchBucket, AccessKey: s3BenchKey, SecretKey: s3BenchSecret})
}

// s3BenchEnv is the environment of the commands that reach the store: its key, and no settings
// of the caller's.
func s3BenchEnv(w *workDir) []string {
	return append(os.Environ(), "AWS_ACCESS_KEY_ID="+s3BenchKey, "AWS_SECRET_ACCESS_KEY="+s3BenchSecret,
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "AWS_SHARED_CREDENTIALS_FILE="+w.join("none"), "AWS_CONFIG_FILE="+w.join("none"))
}

// s3Form is one way of getting the backup somewhere, run as a shell command line.
type s3Form struct {
	name, command string
	samples       []childUsage
}

func runS3Bench(ctx context.Context, s s3Settings, stdout, stderr io.Writer) (err error) {
	sc, err := startScenario(ctx, s.scenarioFlags)
	if err != nil {
		return err
	}
	defer sc.closeInto(&err)
	store, err := startBenchStore(ctx, sc.w)
	if err != nil {
		return err
	}
	defer store.Stop()
	src, err := sc.w.startPgbench(ctx, testcluster.Options{Checksums: true}, s.scale, stderr)
	if err != nil {
		return err
	}
	size, err := databaseBytes(ctx, src.TCPDSN())
	if err != nil {
		return err
	}

	backup := fmt.Sprintf("%q backup -c fast -j %d -Z %s %q", sc.bin, s.jobs, s.compress, src.TCPDSN())
	forms := []*s3Form{
		{name: "pgpull to s3:// (native multipart)", command: fmt.Sprintf("%s --s3-endpoint %s s3://%s/native", backup, store.Endpoint(), s3BenchBucket)},
		{name: "pgpull - > /dev/null (tar stream, no store)", command: backup + " - > /dev/null"},
	}
	aws, awsErr := exec.LookPath("aws")
	if awsErr == nil {
		forms = append(forms, &s3Form{name: "pgpull - \\| aws s3 cp - (one stream, CLI's parts)",
			command: fmt.Sprintf("%s - | %q s3 cp - s3://%s/piped/base.tar --endpoint-url %s --only-show-errors", backup, aws, s3BenchBucket, store.Endpoint())})
	} else {
		fmt.Fprintln(stderr, "bench: no aws CLI on PATH: the piped form is left out (apt-get install awscli)")
	}
	env := s3BenchEnv(sc.w)
	for r := 1; r <= s.rounds; r++ {
		for _, f := range forms {
			fmt.Fprintf(stderr, "bench: round %d: %s\n", r, f.name)
			cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", f.command)
			cmd.Env = env
			u, err := runChild(ctx, cmd)
			if err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			f.samples = append(f.samples, u)
		}
	}

	m := describeMachine()
	var b strings.Builder
	fmt.Fprintf(&b, "## Scenario: s3\n\n")
	fmt.Fprintf(&b, "- measured: %s UTC, took %.0f s\n", sc.began.UTC().Format("2006-01-02 15:04"), time.Since(sc.began).Seconds())
	fmt.Fprintf(&b, "- machine: %d CPUs (%s), load average at start %s; the store (SeaweedFS weed mini, loopback, data on the same disk) shares them\n",
		m.CPUs, m.CPUModel, m.LoadAvg)
	fmt.Fprintf(&b, "- data set: pgbench scale %d, %d MB in databases; data checksums on\n", s.scale, size/1e6)
	fmt.Fprintf(&b, "- command: `go run ./bench s3 --scale %d --jobs %d --compress %s --rounds %d`\n", s.scale, s.jobs, s.compress, s.rounds)
	fmt.Fprintf(&b, "- runs: `pgpull backup -c fast -j %d -Z %s DSN DEST` in turn for each form, %d rounds; medians; "+
		"MB/s is the databases' MB over the wall time; peak RSS is the largest sum of VmHWM over the command's processes (pgpull, and aws for the pipe)\n\n",
		s.jobs, s.compress, s.rounds)
	fmt.Fprintln(&b, "| form | wall s | MB/s | CPU s | peak RSS MiB |")
	fmt.Fprintln(&b, "|---|---|---|---|---|")
	for _, f := range forms {
		var walls, cpus, rss []float64
		for _, u := range f.samples {
			walls = append(walls, u.wall.Seconds())
			cpus = append(cpus, (u.user + u.sys).Seconds())
			rss = append(rss, float64(u.peakRSSKiB)/1024)
		}
		wall := median(walls)
		fmt.Fprintf(&b, "| %s | %.1f | %.0f | %.1f | %.0f |\n", f.name, wall, float64(size)/1e6/wall, median(cpus), median(rss))
	}
	fmt.Fprint(stdout, b.String())
	if s.results != "" {
		return replaceSection(s.results, "s3", b.String())
	}
	return nil
}
