package main

import (
	"context"
	"fmt"
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func grantsCommand(stdout, stderr io.Writer) *ffcli.Command {
	fs := quietFlagSet("pgpull grants", stderr)
	return &ffcli.Command{
		Name:       "grants",
		ShortUsage: "pgpull grants [flags] DSN ROLE",
		ShortHelp:  "print the SQL that lets ROLE take backups without superuser",
		FlagSet:    fs,
		Exec: func(ctx context.Context, args []string) error {
			return fmt.Errorf("grants is not built yet")
		},
	}
}
