package main

import (
	"context"
	"fmt"
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func verifyCommand(stdout, stderr io.Writer) *ffcli.Command {
	fs := quietFlagSet("pgpull verify", stderr)
	return &ffcli.Command{
		Name:       "verify",
		ShortUsage: "pgpull verify PATH|-",
		ShortHelp:  "check a backup against its backup_manifest",
		FlagSet:    fs,
		Exec: func(ctx context.Context, args []string) error {
			return fmt.Errorf("verify is not built yet")
		},
	}
}
