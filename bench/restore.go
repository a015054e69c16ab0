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

	"github.com/pgpull/pgpull/internal/testcluster"
)

// restoreSettings are the restore command's flags.
type restoreSettings struct {
	compress string
	scenarioFlags
}

func restoreCommand(stdout, stderr io.Writer) *ffcli.Command {
	var s restoreSettings
	cmd := newSubcommand("restore", "time pgpull restore s3://... beside aws s3 cp - | zstd -d | tar -x from a local S3 store (weed), locally and over a shaped link",
		stderr, func(ctx context.Context) error { return runRestoreBench(ctx, s, stdout, stderr) })
	s.register(cmd.FlagSet, scenarioFlagSpec{section: "restore", scale: 30, scaleSize: "450 MB", jobs: "pgpull restore -j: ranged reads at once",
		rounds: "interleaved rounds; the table gives each form's median", link: true, noisy: true})
	cmd.FlagSet.StringVar(&s.compress, "compress", "zstd", "pgpull backup -Z of the backup restored: none, gzip or zstd")
	return cmd
}

// restoreCodecs are the -Z the scenario takes: the object's name ends with ext, and decompress
// reads it in the CLI's pipe.
var restoreCodecs = map[string]struct{ ext, decompress string }{
	"none": {"", "cat"}, "gzip": {".gz", "gzip -dc"}, "zstd": {".zst", "zstd -dc"},
}

// restoreForm is one way of restoring the backup object into a directory, as a shell command
// line with DIR and ENDPOINT to fill in.
type restoreForm struct {
	name, command string
}

// restoreBench is one run of the scenario.
type restoreBench struct {
	s       restoreSettings
	w       *workDir
	quiet   quietness
	forms   []restoreForm
	env     []string
	samples map[string][]childUsage // by link and form
	order   []string
	stderr  io.Writer
}

func runRestoreBench(ctx context.Context, s restoreSettings, stdout, stderr io.Writer) (err error) {
	codec, ok := restoreCodecs[s.compress]
	if !ok {
		return fmt.Errorf("--compress %q: use none, gzip or zstd", s.compress)
	}
	sc, err := startScenario(ctx, s.scenarioFlags)
	if err != nil {
		return err
	}
	defer sc.closeInto(&err)
	b := &restoreBench{s: s, w: sc.w, quiet: sc.quiet, samples: map[string][]childUsage{}, stderr: stderr, env: s3BenchEnv(sc.w)}
	store, err := startBenchStore(ctx, sc.w)
	if err != nil {
		return err
	}
	defer store.Stop()
	size, err := b.backup(ctx, sc.bin, store.Endpoint())
	if err != nil {
		return err
	}
	shaped, err := sc.shape(strings.TrimPrefix(store.Endpoint(), "http://"))
	if err != nil {
		return err
	}
	b.addForms(sc.bin, codec.ext, codec.decompress)
	links := []benchLink{{"local", store.Endpoint()}, {sc.shapedName(), "http://" + shaped}}
	for round := 1; round <= s.rounds; round++ {
		for _, l := range links {
			fmt.Fprintf(stderr, "bench: round %d of %d, %s link\n", round, s.rounds, l.name)
			if err := b.round(ctx, l.name, l.addr); err != nil {
				return err
			}
		}
	}
	report := b.report(sc.began, size)
	fmt.Fprint(stdout, report)
	if s.results != "" {
		return replaceSection(s.results, "restore", report)
	}
	return nil
}

// backup fills the store with the backup the runs restore, stops the cluster (it has no part in
// a restore), and gives the data directory's size as restored, measured by one restore.
func (b *restoreBench) backup(ctx context.Context, bin, endpoint string) (int64, error) {
	src, err := b.w.startPgbench(ctx, testcluster.Options{Checksums: true}, b.s.scale, b.stderr)
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, bin, "backup", "-c", "fast", "-j", fmt.Sprint(b.s.jobs), "-Z", b.s.compress,
		"--s3-endpoint", endpoint, src.TCPDSN(), "s3://"+s3BenchBucket+"/restore")
	cmd.Env = b.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pgpull backup: %v\n%s", err, out)
	}
	if err := src.Stop(ctx); err != nil {
		return 0, err
	}
	dir := b.w.join("sized")
	cmd = exec.CommandContext(ctx, bin, "restore", "--s3-endpoint", endpoint, "s3://"+s3BenchBucket+"/restore", dir)
	cmd.Env = b.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pgpull restore: %v\n%s", err, out)
	}
	size, err := treeSize(dir)
	if err != nil {
		return 0, err
	}
	return size, os.RemoveAll(dir)
}

// addForms lists the forms compared: pgpull's restore with and without fsync, and the CLI's
// stream piped into a decompressor and tar, which checks nothing and syncs nothing.
func (b *restoreBench) addForms(bin, ext, decompress string) {
	pgpull := fmt.Sprintf("%q restore --s3-endpoint ENDPOINT -j %d s3://%s/restore", bin, b.s.jobs, s3BenchBucket)
	b.forms = []restoreForm{
		{name: fmt.Sprintf("pgpull restore -j %d", b.s.jobs), command: pgpull + " DIR"},
		{name: fmt.Sprintf("pgpull restore -j %d -N (no fsync)", b.s.jobs), command: pgpull + " -N DIR"},
	}
	aws, err := exec.LookPath("aws")
	if err != nil {
		fmt.Fprintln(b.stderr, "bench: no aws CLI on PATH: the aws s3 cp form is left out (apt-get install awscli)")
		return
	}
	b.forms = append(b.forms, restoreForm{name: fmt.Sprintf("aws s3 cp - \\| %s \\| tar -x", decompress),
		command: fmt.Sprintf("%q s3 cp s3://%s/restore/base.tar%s - --endpoint-url ENDPOINT --only-show-errors | %s | tar -x -C DIR",
			aws, s3BenchBucket, ext, decompress)})
}

// round runs each form once over the link to endpoint, each into an empty directory removed
// after it (untimed).
func (b *restoreBench) round(ctx context.Context, link, endpoint string) error {
	for _, f := range b.forms {
		dir := b.w.join("restored")
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		line := strings.NewReplacer("ENDPOINT", endpoint, "DIR", fmt.Sprintf("%q", dir)).Replace(f.command)
		cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", line)
		cmd.Env = b.env
		u, err := runChild(ctx, cmd)
		if err != nil {
			return fmt.Errorf("%s over the %s link: %w", f.name, link, err)
		}
		key := link + "\x00" + f.name
		if _, seen := b.samples[key]; !seen {
			b.order = append(b.order, key)
		}
		b.samples[key] = append(b.samples[key], u)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// report is the scenario's section: per link and form, the medians, and each wall against the
// CLI's on the same link.
func (b *restoreBench) report(began time.Time, size int64) string {
	m := describeMachine()
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Scenario: restore\n\n")
	fmt.Fprintf(&sb, "- measured: %s UTC, took %.0f s\n", began.UTC().Format("2006-01-02 15:04"), time.Since(began).Seconds())
	fmt.Fprintf(&sb, "- machine: %d CPUs (%s); before the run: %s; the store (SeaweedFS weed mini, loopback, data on the same disk) shares them\n",
		m.CPUs, m.CPUModel, b.quiet)
	fmt.Fprintf(&sb, "- data set: pgbench scale %d backed up with `pgpull backup -Z %s DSN s3://bench/restore` (one object), %.0f MB restored\n",
		b.s.scale, b.s.compress, float64(size)/1e6)
	fmt.Fprintf(&sb, "- command: `go run ./bench restore --scale %d --jobs %d --compress %s --rounds %d --latency %s --bandwidth %s`\n",
		b.s.scale, b.s.jobs, b.s.compress, b.s.rounds, b.s.latency, b.s.bandwidth)
	fmt.Fprintf(&sb, "- runs: each form in turn into an empty directory, local link then the shaped one (Toxiproxy between the client and the store, "+
		"the latency each way and the cap per connection and direction), %d rounds; medians; MB/s is the restored MB over the wall; "+
		"peak RSS is the largest sum of VmHWM over the command's processes\n\n", b.s.rounds)
	fmt.Fprintln(&sb, "| link | form | wall s | MB/s | CPU s | peak RSS MiB | aws's wall / this |")
	fmt.Fprintln(&sb, "|---|---|---|---|---|---|---|")
	walls := map[string]float64{}
	for _, key := range b.order {
		var w []float64
		for _, u := range b.samples[key] {
			w = append(w, u.wall.Seconds())
		}
		walls[key] = median(w)
	}
	for _, key := range b.order {
		link, form, _ := strings.Cut(key, "\x00")
		var cpus, rss []float64
		for _, u := range b.samples[key] {
			cpus = append(cpus, (u.user + u.sys).Seconds())
			rss = append(rss, float64(u.peakRSSKiB)/1024)
		}
		vs := "-"
		if aws := walls[link+"\x00"+b.forms[len(b.forms)-1].name]; strings.HasPrefix(b.forms[len(b.forms)-1].name, "aws") && aws > 0 {
			vs = fmt.Sprintf("%.2f", aws/walls[key])
		}
		fmt.Fprintf(&sb, "| %s | %s | %.1f | %.0f | %.1f | %.0f | %s |\n", link, form, walls[key], float64(size)/1e6/walls[key],
			median(cpus), median(rss), vs)
	}
	return sb.String()
}
