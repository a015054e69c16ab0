package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// completeWith is the annotation that says what the shell offers as a flag's value: words, or
// one of fileValue and dirValue. A flag without it takes whatever is typed.
const completeWith = "pgpull-complete"

const (
	fileValue = "<FILE>"
	dirValue  = "<DIR>"
)

// complete says what the shell offers for the flag's value.
func complete(fs *pflag.FlagSet, name string, values ...string) {
	_ = fs.SetAnnotation(name, completeWith, values)
}

// completionCommand is `pgpull completion bash|zsh`: a completion script written from the
// commands' flag definitions, for the shell to load (README.md: Install).
func completionCommand(stdout io.Writer, commands func() []*command) *command {
	return &command{
		name:  "completion",
		usage: "completion bash|zsh",
		short: "print a completion script for bash or zsh",
		long: "bash: pgpull completion bash > ~/.local/share/bash-completion/completions/pgpull\n" +
			"zsh:  pgpull completion zsh > ~/.zfunc/_pgpull, with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc",
		flags: newFlags("pgpull completion"),
		run: func(ctx context.Context, args []string) error {
			switch {
			case len(args) == 1 && args[0] == "bash":
				_, err := io.WriteString(stdout, bashCompletion(commands()))
				return err
			case len(args) == 1 && args[0] == "zsh":
				_, err := io.WriteString(stdout, zshCompletion(commands()))
				return err
			}
			return usageError(fmt.Errorf("completion needs the shell, bash or zsh; see pgpull completion --help"))
		},
	}
}

// shellFlag is one flag as a completion script needs it.
type shellFlag struct {
	long, short string
	value       string   // the value's name, "" for a switch
	values      []string // what to offer for the value
	usage       string   // the help's first clause
}

// shellFlags are c's flags that the help shows, --help included.
func shellFlags(c *command) []shellFlag {
	var out []shellFlag
	c.flags.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name, usage := pflag.UnquoteUsage(f)
		if f.NoOptDefVal != "" {
			name = ""
		}
		usage, _, _ = strings.Cut(usage, ";")
		usage, _, _ = strings.Cut(usage, " (")
		out = append(out, shellFlag{long: f.Name, short: f.Shorthand, value: strings.ToUpper(name),
			values: f.Annotations[completeWith], usage: usage})
	})
	return out
}

// bashCompletion is the bash script: the command names, then each command's flags and the
// values the flags take.
func bashCompletion(cmds []*command) string {
	var b strings.Builder
	b.WriteString("# bash completion for pgpull, written by `pgpull completion bash` from its flag definitions.\n")
	b.WriteString("_pgpull() {\n\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} flags= values=\n")
	var names []string
	for _, c := range visible(cmds) {
		names = append(names, c.name)
	}
	fmt.Fprintf(&b, "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\treturn\n\tfi\n", strings.Join(names, " ")+" help")
	b.WriteString("\tcase ${COMP_WORDS[1]} in\n")
	for _, c := range visible(cmds) {
		fmt.Fprintf(&b, "\t%s)\n", c.name)
		var all []string
		b.WriteString("\t\tcase $prev in\n")
		for _, f := range shellFlags(c) {
			spelled := "--" + f.long
			all = append(all, spelled)
			if f.short != "" {
				spelled = "-" + f.short + "|" + spelled
				all = append(all, "-"+f.short)
			}
			if f.value != "" {
				fmt.Fprintf(&b, "\t\t%s) %s ;;\n", strings.ReplaceAll(spelled, "?", `\?`), bashValues(f.values))
			}
		}
		b.WriteString("\t\tesac\n")
		fmt.Fprintf(&b, "\t\tflags=%q ;;\n", strings.Join(all, " "))
	}
	b.WriteString("\thelp) values=" + fmt.Sprintf("%q", strings.Join(names, " ")) + " ;;\n\tesac\n")
	b.WriteString("\tif [ \"${COMP_WORDS[1]}\" = completion ] && [ \"$COMP_CWORD\" -eq 2 ] && [[ $cur != -* ]]; then values=\"bash zsh\"; fi\n")
	b.WriteString("\tif [ -n \"$values\" ]; then\n\t\tCOMPREPLY=($(compgen -W \"$values\" -- \"$cur\"))\n")
	b.WriteString("\telif [[ $cur == -* ]]; then\n\t\tCOMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n")
	b.WriteString("\telse\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\tfi\n}\n")
	b.WriteString("complete -o filenames -F _pgpull pgpull\n")
	return b.String()
}

// bashValues is the case branch for a flag's value: files, directories, words, or nothing.
func bashValues(values []string) string {
	switch {
	case len(values) == 1 && values[0] == fileValue:
		return `COMPREPLY=($(compgen -f -- "$cur")); return`
	case len(values) == 1 && values[0] == dirValue:
		return `COMPREPLY=($(compgen -d -- "$cur")); return`
	case len(values) > 0:
		return fmt.Sprintf("values=%q", strings.Join(values, " "))
	}
	return "COMPREPLY=(); return"
}

// zshCompletion is the zsh script, for a file _pgpull in $fpath.
func zshCompletion(cmds []*command) string {
	var b strings.Builder
	b.WriteString("#compdef pgpull\n# zsh completion for pgpull, written by `pgpull completion zsh` from its flag definitions.\n")
	b.WriteString("_pgpull() {\n\tlocal -a commands\n\tcommands=(\n")
	for _, c := range visible(cmds) {
		fmt.Fprintf(&b, "\t\t%s\n", zshQuote(c.name+":"+c.short))
	}
	b.WriteString("\t)\n\tif (( CURRENT == 2 )); then\n\t\t_describe command commands\n\t\treturn\n\tfi\n")
	b.WriteString("\tlocal cmd=$words[2]\n\tshift words\n\t(( CURRENT-- ))\n\tcase $cmd in\n")
	for _, c := range visible(cmds) {
		fmt.Fprintf(&b, "\t%s)\n\t\t_arguments -s \\\n", c.name)
		for _, f := range shellFlags(c) {
			fmt.Fprintf(&b, "\t\t\t%s \\\n", zshSpec(f))
		}
		rest := "'*:argument:_files'"
		if c.name == "completion" {
			rest = "'1:shell:(bash zsh)'"
		}
		fmt.Fprintf(&b, "\t\t\t%s ;;\n", rest)
	}
	b.WriteString("\tesac\n}\n_pgpull \"$@\"\n")
	return b.String()
}

// zshSpec is f as one _arguments spec: exclusions, spellings, description, value.
func zshSpec(f shellFlag) string {
	desc := "[" + strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`).Replace(f.usage) + "]"
	value := ""
	if f.value != "" {
		action := ""
		switch {
		case len(f.values) == 1 && f.values[0] == fileValue:
			action = "_files"
		case len(f.values) == 1 && f.values[0] == dirValue:
			action = "_files -/"
		case len(f.values) > 0:
			action = "(" + strings.Join(f.values, " ") + ")"
		}
		value = ":" + strings.ToLower(f.value) + ":" + action
	}
	long, short := "--"+f.long, "-"+f.short
	if f.value != "" {
		long, short = long+"=", short+"+"
	}
	if f.short == "" {
		return zshQuote(long + desc + value)
	}
	return zshQuote("(-"+f.short+" --"+f.long+")") + "{" + zshQuote(short) + "," + zshQuote(long) + "}" + zshQuote(desc+value)
}

// zshQuote single-quotes s for zsh.
func zshQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
