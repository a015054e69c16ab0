package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// destination reads DSN and DEST from the arguments, or DEST from -D as pg_basebackup takes it
// (then DSN may be left to the PG* variables too).
func (f backupFlags) destination(args []string) (dsn, dest string, err error) {
	if f.pgdata != "" {
		switch len(args) {
		case 0:
			return "", f.pgdata, nil
		case 1:
			return args[0], f.pgdata, nil
		}
		return "", "", fmt.Errorf("with -D DEST give at most DSN, got %d arguments; see pgpull backup -h", len(args))
	}
	if len(args) != 2 {
		return "", "", fmt.Errorf("backup needs DSN and DEST (- for stdout, or -D DIR), got %d %s; see pgpull backup -h",
			len(args), plural(len(args), "argument", "arguments"))
	}
	return args[0], args[1], nil
}

// checkWALMethod accepts pg_basebackup's -X values that mean what pgpull does anyway.
func (f backupFlags) checkWALMethod() error {
	switch f.walMethod {
	case "stream", "s", "fetch", "f":
		return nil
	case "none", "n":
		return fmt.Errorf("-X none is not offered: pgpull always puts the WAL the backup needs into it; drop -X")
	}
	return fmt.Errorf("invalid -X/--wal-method %q: pgpull always includes the WAL; drop -X, or use -X stream", f.walMethod)
}

// askPassword reads a password from the terminal on in, as pg_basebackup -W does.
func askPassword(in *os.File, prompt io.Writer, user string) (string, error) {
	if !isTerminal(in) {
		return "", fmt.Errorf("-W asks for the password on a terminal, and standard input is not one: " +
			"give it with PGPASSWORD, ~/.pgpass or password= in the DSN")
	}
	fmt.Fprintf(prompt, "Password for user %s: ", user)
	pw, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("reading the password from the terminal: %w", err)
	}
	return string(pw), nil
}
