// Command pgpull takes a base backup of a running PostgreSQL cluster over ordinary SQL
// connections, several at once, and writes it as a tar stream, a plain data directory or
// pg_basebackup -Ft's tar files.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
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

// exitUsage is the status of a command line pgpull cannot take, as for flag parsers generally: a
// flag unknown or badly valued, arguments missing or too many, flags that exclude each other. Any
// failure once the command line is taken is status 1.
const exitUsage = 2

// usageError marks err as a command line pgpull cannot take.
func usageError(err error) error { return exitError{exitUsage, err} }

func run(args []string, stdout, stderr io.Writer) int {
	// A closed stdout must fail a write with EPIPE, not kill the process before it can end the
	// backup on the server and clean up.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cmds := []*command{
		backupCommand(os.Stdin, stdout, stderr),
		verifyCommand(os.Stdin, stdout, stderr),
		grantsCommand(os.Stdin, stdout, stderr),
		walCommand(os.Stdin, stderr),
		walGetCommand(),
		combineCommand(stderr),
		restoreCommand(os.Stdin, stderr),
		listCommand(stdout),
	}
	all := func() []*command { return cmds }
	cmds = append(cmds, completionCommand(stdout, all), manCommand(stdout, all))
	if len(args) == 0 {
		writeRootHelp(stderr, cmds)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "-?", "help":
		if len(args) > 1 {
			if cmd := findCommand(cmds, args[1]); cmd != nil {
				cmd.writeHelp(stdout)
				return 0
			}
		}
		writeRootHelp(stdout, cmds)
		return 0
	case "-V", "--version", "version":
		fmt.Fprintln(stdout, versionLine(buildInfo()))
		return 0
	}
	cmd := findCommand(cmds, args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "pgpull: %s\n", unknownCommand(args[0], cmds))
		return exitUsage
	}
	rest, err := cmd.parse(args[1:])
	switch {
	case errors.Is(err, pflag.ErrHelp):
		cmd.writeHelp(stdout)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "pgpull: %s\n", oneLine(err.Error()))
		return exitUsage
	}
	err = cmd.run(ctx, rest)
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		// Every command cleans up before it returns: a backup has ended its backup on the server
		// and removed the output it created by now.
		fmt.Fprintf(stderr, "pgpull: interrupted (%s); stopped and cleaned up\n", context.Cause(ctx))
		return 130
	}
	fmt.Fprintf(stderr, "pgpull: %s\n", oneLine(err.Error()))
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func findCommand(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

// unknownCommand names what was typed and the command it is closest to.
func unknownCommand(given string, cmds []*command) string {
	if strings.HasPrefix(given, "-") {
		return fmt.Sprintf("unknown flag %s: a command comes first, as pgpull backup %s ...; see pgpull --help", given, given)
	}
	var names []string
	for _, c := range visible(cmds) {
		names = append(names, c.name)
	}
	if near := closest(given, names); near != "" {
		return fmt.Sprintf("unknown command %q (did you mean %s?); see pgpull --help", given, near)
	}
	return fmt.Sprintf("unknown command %q: use one of %s; see pgpull --help", given, strings.Join(names, ", "))
}

func writeRootHelp(w io.Writer, cmds []*command) {
	fmt.Fprintf(w, "Usage: pgpull COMMAND [flags] ARGS\n\nparallel PostgreSQL base backups over SQL connections\n\nCommands:\n")
	for _, c := range visible(cmds) {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\npgpull COMMAND --help shows a command's flags; pgpull --version its version.\n")
}

// oneLine keeps an error on one line: server messages can carry newlines (DETAIL, HINT).
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
