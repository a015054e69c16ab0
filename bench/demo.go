package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/sync/errgroup"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// demoSettings are the demo command's flags.
type demoSettings struct {
	clients int
	scenarioFlags
}

func demoCommand(stdout, stderr io.Writer) *ffcli.Command {
	var s demoSettings
	cmd := newSubcommand("demo", "back up a scratch cluster under pgbench load, restore it and check it",
		stderr, func(ctx context.Context) error { return runDemo(ctx, s, stdout) })
	cmd.ShortUsage = "go run ./bench demo [--scale 20]"
	s.register(cmd.FlagSet, scenarioFlagSpec{scale: 20, scaleSize: "300 MB", jobs: "pgpull -j"})
	cmd.FlagSet.IntVar(&s.clients, "clients", 4, "pgbench clients writing during the backup")
	return cmd
}

// demoCheck is one line of the demo's final summary.
type demoCheck struct {
	name string
	err  error
}

func runDemo(ctx context.Context, s demoSettings, stdout io.Writer) (err error) {
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(stdout, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	work, err := newWorkDir()
	if err != nil {
		return err
	}
	defer func() {
		say("cleaning up %s", work.path)
		if cerr := work.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	say("initdb --data-checksums and start a scratch cluster")
	src, err := work.startCluster(ctx, "source", testcluster.Options{Checksums: true})
	if err != nil {
		return err
	}
	say("pgbench -i -s %d while building pgpull", s.scale)
	var pgpull string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		pgpull, err = buildPgpull(gctx, work.path, "")
		return err
	})
	g.Go(func() error {
		out, err := src.Pgbench(gctx, "-i", "-q", "-s", strconv.Itoa(s.scale)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pgbench -i: %w\n%s", err, out)
		}
		return src.Exec(gctx, `CREATE UNLOGGED TABLE demo_unlogged AS SELECT g, md5(g::text) AS h FROM generate_series(1, 50000) g`)
	})
	if err := g.Wait(); err != nil {
		return err
	}

	say("pgbench -c %d writing during the backup", s.clients)
	load, err := src.StartLoad(ctx, s.clients)
	if err != nil {
		return err
	}
	tarPath := work.join("backup.tar")
	say("pgpull backup -j %d -c fast DSN - > %s", s.jobs, tarPath)
	backup, berr := demoBackup(ctx, pgpull, src.DSN(), s.jobs, tarPath)
	txns, lerr := load.Stop()
	checks := []demoCheck{{"pgpull backup exits 0", berr}, {"pgbench ran during the backup: every run exit 0, transactions > 0", lerr}}
	if berr == nil {
		say("backup: %.1f MB in %.2fs = %.0f MB/s (pgbench committed %d transactions meanwhile)",
			float64(backup.bytes)/1e6, backup.wall.Seconds(), float64(backup.bytes)/1e6/backup.wall.Seconds(), txns)
		checks = append(checks, restoreAndCheck(ctx, work, tarPath, say)...)
	}

	failed := 0
	fmt.Fprintln(stdout, "\nsummary:")
	for _, c := range checks {
		if c.err != nil {
			failed++
			fmt.Fprintf(stdout, "  FAIL  %s: %v\n", c.name, c.err)
		} else {
			fmt.Fprintf(stdout, "  ok    %s\n", c.name)
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "FAIL: %d of %d checks failed (%.0fs)\n", failed, len(checks), time.Since(start).Seconds())
		return errors.New("demo failed")
	}
	fmt.Fprintf(stdout, "PASS: backup under load restored and verified (%.0fs)\n", time.Since(start).Seconds())
	return nil
}

// demoBackupResult is what the demo reports about the backup itself.
type demoBackupResult struct {
	bytes int64
	wall  time.Duration
}

// demoBackup runs the pgpull binary writing a tar stream into tarPath.
func demoBackup(ctx context.Context, pgpull, dsn string, jobs int, tarPath string) (demoBackupResult, error) {
	f, err := os.Create(tarPath)
	if err != nil {
		return demoBackupResult{}, err
	}
	defer f.Close()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, pgpull, "backup", "-j", strconv.Itoa(jobs), "-c", "fast", dsn, "-")
	cmd.Stdout, cmd.Stderr = f, &stderr
	t0 := time.Now()
	err = cmd.Run()
	wall := time.Since(t0)
	if err != nil {
		return demoBackupResult{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	fi, err := f.Stat()
	if err != nil {
		return demoBackupResult{}, err
	}
	return demoBackupResult{bytes: fi.Size(), wall: wall}, nil
}

// restoreAndCheck extracts the backup, starts it as a cluster and runs the
// checks a user relies on. Each check is reported; a failed step skips the
// checks that depend on it.
func restoreAndCheck(ctx context.Context, work *workDir, tarPath string, say func(string, ...any)) []demoCheck {
	restored := work.join("restored")
	say("extract into %s, adopt and start it (WAL replay to a consistent point)", restored)
	f, err := os.Open(tarPath)
	if err != nil {
		return []demoCheck{{"extract the tar", err}}
	}
	err = testcluster.ExtractTar(f, restored)
	f.Close()
	if err != nil {
		return []demoCheck{{"extract the tar", err}}
	}
	r, err := work.adoptCluster(ctx, restored)
	checks := []demoCheck{{"extract the tar", nil}, {"restored copy starts", err}}
	if err != nil {
		return checks
	}
	say("checks: TPC-B balances, pg_amcheck --heapallindexed, unlogged table empty")
	checks = append(checks, demoCheck{"TPC-B balances agree (consistent snapshot)", r.CheckTPCB(ctx)})
	checks = append(checks, demoCheck{"pg_amcheck: heap, btree and page checksums clean", r.Amcheck(ctx)})
	n, err := r.QueryInt(ctx, `SELECT count(*) FROM demo_unlogged`)
	if err == nil && n != 0 {
		err = fmt.Errorf("%d rows; an unlogged table must come back empty", n)
	}
	checks = append(checks, demoCheck{"unlogged table is empty", err})
	return checks
}
