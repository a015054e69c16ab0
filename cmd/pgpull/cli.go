package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/peterbourgon/ff/v3"
	"github.com/spf13/pflag"
)

// envPrefix starts the environment variable of every flag: --max-rate is PGPULL_MAX_RATE.
const envPrefix = "PGPULL_"

// command is one of pgpull's subcommands.
type command struct {
	name  string
	usage string // the synopsis after "pgpull ", e.g. "backup [flags] DSN DEST"
	short string // one line for pgpull -h
	long  string // what -h adds after the synopsis
	flags *pflag.FlagSet
	run   func(ctx context.Context, args []string) error
	// hidden keeps the command out of the help, the man page and the completions (pgpull man).
	hidden bool
}

// helpFlag is every command's --help, also -? as libpq's tools spell it: -h is the host where a
// command connects.
const helpFlag = "help"

// noEnv marks a flag that the environment does not set: --help, -W (PGPULL_PASSWORD would read as
// a password), and the refused flags.
const noEnv = "pgpull-no-env"

// newFlags makes a command's flag set: flags may follow the arguments, as in "backup DSN DEST -j 8",
// and the parser prints nothing, so that a mistake costs one line.
func newFlags(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.SetInterspersed(true)
	fs.BoolP(helpFlag, "?", false, "show this help")
	skipEnv(fs, helpFlag)
	return fs
}

// skipEnv keeps the environment from setting the named flags.
func skipEnv(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		_ = fs.SetAnnotation(n, noEnv, []string{"true"})
	}
}

// parse reads the command line, then, through ff, the environment for every flag the command
// line left unset. Each flag's variable is named after its long name only, so no two collide.
func (c *command) parse(args []string) ([]string, error) {
	if err := c.flags.Parse(args); err != nil {
		return nil, c.flagError(err)
	}
	if help, _ := c.flags.GetBool(helpFlag); help {
		return nil, pflag.ErrHelp
	}
	// ff reads a standard flag set: hand it the flags still unset, each wrapped so that a bad
	// value is reported with its variable's name.
	unset := flag.NewFlagSet(c.name, flag.ContinueOnError)
	unset.SetOutput(io.Discard)
	c.flags.VisitAll(func(f *pflag.Flag) {
		if _, skip := f.Annotations[noEnv]; !f.Changed && !skip {
			unset.Var(envValue{flag: f, set: c.flags}, f.Name, f.Usage)
		}
	})
	if err := ff.Parse(unset, nil, ff.WithEnvVarPrefix(strings.TrimSuffix(envPrefix, "_"))); err != nil {
		var bad envError
		if errors.As(err, &bad) {
			return nil, bad
		}
		return nil, err
	}
	return c.flags.Args(), nil
}

// envValue sets a pflag flag from its environment variable, marking it changed as the command
// line would.
type envValue struct {
	flag *pflag.Flag
	set  *pflag.FlagSet
}

func (v envValue) String() string { return v.flag.Value.String() }

func (v envValue) Set(s string) error {
	if err := v.set.Set(v.flag.Name, s); err != nil {
		return envError{fmt.Errorf("%s=%q: %v", envName(v.flag.Name), s, cause(err))}
	}
	return nil
}

// envError is a bad value in an environment variable, already worded for the user.
type envError struct{ error }

// envName is the environment variable that sets flag long.
func envName(long string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(long, "-", "_"))
}

// flagError rewords the flag parser's errors in the terms of the command line and names the
// flag the user probably meant.
func (c *command) flagError(err error) error {
	if errors.Is(err, pflag.ErrHelp) {
		return err
	}
	see := "; see pgpull " + c.name + " --help"
	var missing *pflag.NotExistError
	var invalid *pflag.InvalidValueError
	var needs *pflag.ValueRequiredError
	var refused refusedError
	switch {
	case errors.As(err, &refused):
		return refused
	case errors.As(err, &needs):
		f := needs.GetFlag()
		name, _ := pflag.UnquoteUsage(f)
		msg := fmt.Sprintf("%s needs a value: %s %s", flagNames(f), dashed(needs.GetSpecifiedName(), needs.GetSpecifiedShortnames() != ""), strings.ToUpper(name))
		if f.Shorthand == "h" {
			msg += " (help is --help or -?)"
		}
		return fmt.Errorf("%s%s", msg, see)
	case errors.As(err, &missing):
		if short := missing.GetSpecifiedShortnames(); short != "" {
			return fmt.Errorf("unknown flag -%s in -%s%s", missing.GetSpecifiedName()[:1], short, see)
		}
		given := missing.GetSpecifiedName()
		var names []string
		c.flags.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		if near := closest(given, names); near != "" {
			return fmt.Errorf("unknown flag --%s (did you mean --%s?)%s", given, near, see)
		}
		return fmt.Errorf("unknown flag --%s%s", given, see)
	case errors.As(err, &invalid):
		return fmt.Errorf("%s %q: %v%s", flagNames(invalid.GetFlag()), invalid.GetValue(), cause(invalid), see)
	}
	return fmt.Errorf("%v%s", err, see)
}

// dashed is a flag's name as typed: -h or --host.
func dashed(name string, short bool) string {
	if short {
		return "-" + name[:1]
	}
	return "--" + name
}

// cause is the part of a flag value's error that says what is wrong with the value.
func cause(err error) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) && invalid.Unwrap() != nil {
		err = invalid.Unwrap()
	}
	var num interface{ Unwrap() error }
	if errors.As(err, &num) && strings.HasPrefix(err.Error(), "strconv.") {
		return fmt.Errorf("not a number")
	}
	return err
}

// flagNames is a flag as the help shows it: "--jobs, -j" or "--range-size".
func flagNames(f *pflag.Flag) string {
	if f.Shorthand != "" {
		return "--" + f.Name + ", -" + f.Shorthand
	}
	return "--" + f.Name
}

// writeHelp prints the command's synopsis, its description and each flag once, with its
// default and its environment variable's name pattern.
func (c *command) writeHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: pgpull %s\n\n%s\n", c.usage, c.short)
	if c.long != "" {
		fmt.Fprintf(w, "\n%s\n", c.long)
	}
	var rows [][2]string
	c.flags.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == helpFlag {
			return
		}
		name, usage := pflag.UnquoteUsage(f)
		left := flagNames(f)
		if name != "" {
			left += " " + strings.ToUpper(name)
		}
		if d := f.DefValue; d != "" && d != "false" && d != "[]" && d != "0" {
			usage += " (default " + d + ")"
		}
		rows = append(rows, [2]string{left, usage})
	})
	rows = append(rows, [2]string{flagNames(c.flags.Lookup(helpFlag)), "show this help"})
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	fmt.Fprintf(w, "\nFlags (each also read from %s<LONG NAME>, e.g. %s):\n", envPrefix, envName(firstLong(c.flags)))
	for _, r := range rows {
		fmt.Fprintf(w, "  %-*s  %s\n", width, r[0], r[1])
	}
}

func firstLong(fs *pflag.FlagSet) string {
	name := ""
	fs.VisitAll(func(f *pflag.Flag) {
		if _, skip := f.Annotations[noEnv]; name == "" && !skip {
			name = f.Name
		}
	})
	return name
}

// closest is the candidate nearest to given by edit distance, if it is near enough to be a typo.
func closest(given string, candidates []string) string {
	best, bestDist := "", len(given)/2+2
	for _, c := range candidates {
		if d := editDistance(given, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev = cur
	}
	return prev[len(b)]
}
