// Command pgpull takes a base backup of a running PostgreSQL cluster over ordinary SQL
// connections, several at once, and writes it as a tar stream, a plain data directory or
// pg_basebackup -Ft's tar files.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries an exit status other than 1 with its message.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }

func run(args []string, stdout, stderr io.Writer) int {
	// A closed stdout must fail a write with EPIPE, not kill the process before it can end the
	// backup on the server and clean up.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root := &ffcli.Command{
		Name:       "pgpull",
		ShortUsage: "pgpull <backup|verify|grants|wal> [flags] ...",
		ShortHelp:  "parallel PostgreSQL base backups over SQL connections",
		FlagSet:    quietFlagSet("pgpull", stderr),
		Subcommands: []*ffcli.Command{
			backupCommand(stdout, stderr),
			verifyCommand(os.Stdin, stdout, stderr),
			grantsCommand(stdout, stderr),
			walCommand(stderr),
		},
		Exec: func(context.Context, []string) error { return flag.ErrHelp },
	}
	err := root.ParseAndRun(ctx, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		printUsage(stderr, root, args)
		return 2
	case ctx.Err() != nil:
		// Every command cleans up before it returns: a backup has ended its backup on the server
		// and removed the output it created by now.
		fmt.Fprintf(stderr, "pgpull: interrupted (%s); stopped and cleaned up\n", context.Cause(ctx))
		return 130
	}
	msg := oneLine(err.Error())
	if bad, ok := strings.CutPrefix(msg, "error parsing commandline arguments: "); ok {
		msg = bad + "; see " + commandName(root, args) + " -h"
	}
	fmt.Fprintf(stderr, "pgpull: %s\n", msg)
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// quietFlagSet keeps the flag package from printing usage on every bad flag: the user gets one
// line naming the problem, and -h for the rest.
func quietFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// subcommand finds the command the arguments name, or root.
func subcommand(root *ffcli.Command, args []string) *ffcli.Command {
	for _, a := range args {
		for _, sub := range root.Subcommands {
			if sub.Name == a {
				return sub
			}
		}
	}
	return root
}

// commandName is the command as a user would type it: "pgpull backup".
func commandName(root *ffcli.Command, args []string) string {
	if cmd := subcommand(root, args); cmd != root {
		return root.Name + " " + cmd.Name
	}
	return root.Name
}

func printUsage(w io.Writer, root *ffcli.Command, args []string) {
	fmt.Fprintln(w, ffcli.DefaultUsageFunc(subcommand(root, args)))
}

// oneLine keeps an error on one line: server messages can carry newlines (DETAIL, HINT).
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
