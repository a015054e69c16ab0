package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// destination reads DSN and DEST from the arguments: "DSN DEST"; "DEST" alone, the connection
// then given by -d, -h, -p, -U or the PG* variables; or DEST from -D as pg_basebackup takes it, then
// at most DSN.
func (f backupFlags) destination(args []string) (dsn, dest string, err error) {
	if f.pgdata != "" {
		switch len(args) {
		case 0:
			return "", f.pgdata, nil
		case 1:
			return args[0], f.pgdata, nil
		}
		return "", "", fmt.Errorf("with -D DEST give at most DSN, got %d arguments%s; see pgpull backup --help", len(args), f.gzipHint(args))
	}
	switch {
	case len(args) == 2:
		return args[0], args[1], nil
	case len(args) == 1 && !looksLikeDSN(args[0]):
		return "", args[0], nil
	case len(args) == 1:
		return "", "", fmt.Errorf("backup needs DEST after DSN: a directory, - for stdout, s3://BUCKET/PREFIX, or -D DIR; see pgpull backup --help")
	case len(args) == 0:
		return "", "", fmt.Errorf("backup needs DEST: a directory, - for stdout, s3://BUCKET/PREFIX, or -D DIR; see pgpull backup --help")
	}
	return "", "", fmt.Errorf("backup takes DSN and DEST, got %d arguments%s; see pgpull backup --help", len(args), f.gzipHint(args))
}

// gzipHint explains an argument too many that was meant as -z's value: -z takes none, as in
// pg_basebackup, where it once took a METHOD.
func (f backupFlags) gzipHint(args []string) string {
	for _, a := range args {
		if _, err := parseCompress(a); err == nil && f.compress == "gzip" {
			return fmt.Sprintf(" (%q: -z takes no value, it is --gzip as in pg_basebackup; use -Z %s)", a, a)
		}
	}
	return ""
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
