// Command bench shows pgpull working and measures it against its peers.
//
//	go run ./bench demo          back up a scratch cluster under load, restore it, check it
//	go run ./bench run [flags]   time pgpull, pg_basebackup, pgBackRest and tar -c on one data set
//	go run ./bench refresh       time backup --refresh beside a full backup, locally and over a slow link
//	go run ./bench s3            time backup to a local S3 store beside a tar stream piped into aws s3 cp -
//	go run ./bench restore       time pgpull restore s3://... beside aws s3 cp - | zstd -d | tar -x, locally and over a slow link
//	go run ./bench walfeed       the WAL rate pgpull wal keeps up with, locally and over a slow link
//
// See bench/README.md for the flags and what every reported column means.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func main() {
	// Cancel on ^C or SIGTERM so the subcommands' deferred cleanup removes
	// their scratch clusters instead of leaving servers running.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and turns its outcome into an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &ffcli.Command{
		Name:        "bench",
		ShortUsage:  "go run ./bench <demo|run> [flags]",
		FlagSet:     flag.NewFlagSet("bench", flag.ContinueOnError),
		Subcommands: []*ffcli.Command{demoCommand(stdout, stderr), runCommand(stdout, stderr), refreshCommand(stdout, stderr), incrementalCommand(stdout, stderr), s3Command(stdout, stderr), restoreCommand(stdout, stderr), walfeedCommand(stdout, stderr)},
		Exec: func(context.Context, []string) error {
			return flag.ErrHelp
		},
	}
	root.FlagSet.SetOutput(stderr)
	err := root.ParseAndRun(ctx, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stderr, ffcli.DefaultUsageFunc(root))
		return 2
	default:
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
}
