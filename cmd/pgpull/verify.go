package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pgpull/pgpull/internal/backupcheck"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// verifyCommand is `pgpull verify`; stdin is where `-` reads a stream from (os.Stdin, or a test's
// reader).
func verifyCommand(stdin io.Reader, stdout, stderr io.Writer) *command {
	var s3 s3Flags
	fs := newFlags("pgpull verify")
	s3.add(fs)
	return &command{
		name:  "verify",
		usage: "verify PATH|s3://BUCKET/PREFIX|-",
		short: "check a backup against its backup_manifest",
		long: "PATH is a plain backup directory, a directory of -F tar output, or a file holding a tar stream\n" +
			"(plain, gzip, zstd or lz4, told by content); - reads such a stream from stdin; s3://BUCKET/PREFIX\n" +
			"reads what pgpull backup wrote there, streaming, with the AWS variables' credentials.\n" +
			"Every file's size and checksum, missing and extra files, the manifest's own checksum, and the\n" +
			"WAL the backup needs, read record by record from its start to its stop LSN as recovery reads it,\n" +
			"are checked. Problems are printed one a line on stdout; the exit\n" +
			"status is 0 only when there are none.\n" +
			"A stream is hashed with CRC32C and SHA256 as it passes; a manifest with other checksums makes a\n" +
			"file be read twice, and leaves a stream on a pipe unchecked.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			return runVerify(ctx, args, s3, stdin, stdout)
		},
	}
}

func runVerify(ctx context.Context, args []string, s3 s3Flags, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError(fmt.Errorf("verify needs one PATH, or - for a stream on stdin, got %d %s; see pgpull verify --help",
			len(args), plural(len(args), "argument", "arguments")))
	}
	target := args[0]
	scheme := schemeOf(target)
	if scheme != "" && scheme != "s3" {
		return usageError(unsupportedURL("PATH", target, scheme))
	}
	checker := backupcheck.NewChecker()
	var rep *backupcheck.Report
	var err error
	if target == "-" {
		if f, ok := stdin.(*os.File); ok && isTerminal(f) {
			return fmt.Errorf("refusing to read a tar stream from a terminal: pipe a backup in, or give its PATH")
		}
		target = "stdin"
		rep, err = checker.VerifyStream(ctx, stdin, target)
	} else if scheme == "s3" {
		store, oerr := s3.open(ctx, target)
		if oerr != nil {
			return oerr
		}
		rep, err = checker.VerifyObjects(ctx, store, target)
	} else {
		rep, err = checker.VerifyPath(ctx, target)
	}
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, p)
	}
	if !rep.Whole() {
		return fmt.Errorf("%s (%s) failed verification: %d %s", target, rep.Form, len(rep.Problems),
			plural(len(rep.Problems), "problem", "problems"))
	}
	fmt.Fprintf(stdout, "%s (%s) verified: %s; the files match backup_manifest, %s\n",
		target, rep.Form, amount(int64(rep.Files), rep.Bytes, int64(rep.WALSegments)), walSummary(rep))
	return nil
}

// walSummary says which WAL the backup was found to hold.
func walSummary(rep *backupcheck.Report) string {
	if len(rep.WALRanges) == 0 {
		return "the manifest names no WAL"
	}
	spans := make([]string, len(rep.WALRanges))
	for i, r := range rep.WALRanges {
		spans[i] = fmt.Sprintf("timeline %d from %s to %s", r.Timeline, pgformat.LSN(r.Start), pgformat.LSN(r.End))
	}
	if rep.WALWhole {
		return fmt.Sprintf("the WAL reads whole, record by record, on %s", strings.Join(spans, ", "))
	}
	return fmt.Sprintf("the WAL segments hold %s", strings.Join(spans, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
