package main

import (
	"io"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func runCommand(stdout, stderr io.Writer) *ffcli.Command {
	return &ffcli.Command{Name: "run"}
}
