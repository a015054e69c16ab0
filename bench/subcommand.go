package main

import (
	"context"
	"flag"
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// newSubcommand makes the bench subcommand name with an empty flag set writing its usage to
// stderr; the caller registers its flags on FlagSet, which Exec sees filled in.
func newSubcommand(name, shortHelp string, stderr io.Writer, exec func(context.Context) error) *ffcli.Command {
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &ffcli.Command{
		Name:       name,
		ShortUsage: "go run ./bench " + name + " [flags]",
		ShortHelp:  shortHelp,
		FlagSet:    fs,
		Exec:       func(ctx context.Context, _ []string) error { return exec(ctx) },
	}
}
