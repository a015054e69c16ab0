package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// allCommands is every command as run builds them, the hidden ones too.
func allCommands() []*command {
	cmds := []*command{backupCommand(os.Stdin, nil, nil), verifyCommand(nil, nil, nil), grantsCommand(nil, nil, nil), walCommand(nil, nil)}
	all := func() []*command { return cmds }
	cmds = append(cmds, completionCommand(nil, all), manCommand(nil, all))
	return cmds
}

// eachFlag calls fn with every flag of every visible command, refused ones included.
func eachFlag(fn func(c *command, f *pflag.Flag)) {
	for _, c := range visible(allCommands()) {
		c.flags.VisitAll(func(f *pflag.Flag) {
			if _, refused := refusalOf(f); refused || !f.Hidden {
				fn(c, f)
			}
		})
	}
}

// TestManPage: docs/pgpull.1 is what `pgpull man` writes from the flags today, names every flag and
// every refused one, and groff reads it without a warning.
func TestManPage(t *testing.T) {
	code, page, stderr := runCLIOut(t, "man")
	if code != 0 {
		t.Fatalf("pgpull man: exit %d: %s", code, stderr)
	}
	path := filepath.Join("..", "..", "docs", "pgpull.1")
	checkedIn, err := os.ReadFile(path)
	if err != nil || string(checkedIn) != page {
		t.Errorf("%s differs from what the flags give (%v): run go generate ./cmd/pgpull and commit it", path, err)
	}
	eachFlag(func(c *command, f *pflag.Flag) {
		if !strings.Contains(page, roff("--"+f.Name)) {
			t.Errorf("the man page lacks pgpull %s --%s", c.name, f.Name)
		}
	})
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Fatalf("groff is needed to check the man page: apt-get install groff-base")
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	var warnings bytes.Buffer
	cmd.Stderr = &warnings
	if err := cmd.Run(); err != nil || warnings.Len() != 0 {
		t.Errorf("groff -man -ww: %v\n%s", err, warnings.String())
	}
}

// TestBashCompletion loads `pgpull completion bash` into bash and completes as a user would: the
// commands, every flag of every command, a flag's values, and DEST as a file.
func TestBashCompletion(t *testing.T) {
	code, script, stderr := runCLIOut(t, "completion", "bash")
	if code != 0 {
		t.Fatalf("pgpull completion bash: exit %d: %s", code, stderr)
	}
	file := filepath.Join(t.TempDir(), "pgpull.bash")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) []string {
		t.Helper()
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := "source " + file + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "; _pgpull; printf '%s\\n' \"${COMPREPLY[@]}\""
		out, err := exec.Command("bash", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash completing %v: %v\n%s", words, err, out)
		}
		return strings.Fields(string(out))
	}
	for _, c := range visible(allCommands()) {
		if got := complete("pgpull", ""); !slices.Contains(got, c.name) {
			t.Errorf("pgpull <TAB> offers %v, without %s", got, c.name)
		}
		offered := complete("pgpull", c.name, "-")
		c.flags.VisitAll(func(f *pflag.Flag) {
			if f.Hidden {
				return
			}
			if !slices.Contains(offered, "--"+f.Name) || f.Shorthand != "" && !slices.Contains(offered, "-"+f.Shorthand) {
				t.Errorf("pgpull %s -<TAB> lacks --%s or its -%s: %v", c.name, f.Name, f.Shorthand, offered)
			}
		})
	}
	if got := complete("pgpull", "backup", "-c", ""); !slices.Equal(got, []string{"fast", "spread"}) {
		t.Errorf("pgpull backup -c <TAB> offers %v; want fast spread", got)
	}
	if got := complete("pgpull", "backup", "--refr"); !slices.Equal(got, []string{"--refresh"}) {
		t.Errorf("pgpull backup --refr<TAB> offers %v", got)
	}
	if got := complete("pgpull", "completion", ""); !slices.Equal(got, []string{"bash", "zsh"}) {
		t.Errorf("pgpull completion <TAB> offers %v", got)
	}
	if got := complete("pgpull", "verify", file[:len(file)-3]); !slices.Contains(got, file) {
		t.Errorf("pgpull verify PATH<TAB> offers %v, without the file %s", got, file)
	}
}

// TestZshCompletion: `pgpull completion zsh` is valid zsh and spells every flag of every command.
func TestZshCompletion(t *testing.T) {
	code, script, stderr := runCLIOut(t, "completion", "zsh")
	if code != 0 {
		t.Fatalf("pgpull completion zsh: exit %d: %s", code, stderr)
	}
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Fatalf("zsh is needed to check the zsh completion: apt-get install zsh")
	}
	cmd := exec.Command(zsh, "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
	if !strings.HasPrefix(script, "#compdef pgpull\n") {
		t.Errorf("the script does not start with #compdef pgpull")
	}
	eachFlag(func(c *command, f *pflag.Flag) {
		if _, refused := refusalOf(f); refused {
			return
		}
		if !strings.Contains(script, "--"+f.Name) {
			t.Errorf("the zsh completion lacks pgpull %s --%s", c.name, f.Name)
		}
	})
}
