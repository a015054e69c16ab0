package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallCommands runs README's install commands as written, for a user whose home is a
// scratch folder: pgpull lands on PATH, man finds pgpull(1), and bash and zsh find the completions.
func TestInstallCommands(t *testing.T) {
	blocks := readmeBlocks(t, installMarker, "README.md")
	if len(blocks) != 1 {
		t.Fatalf("README has %d blocks marked %q; want the install commands", len(blocks), installMarker)
	}
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=" + filepath.Join(home, ".local", "bin") + ":" + os.Getenv("PATH"), "MANPATH="}
	for _, v := range []string{"GOPATH", "GOMODCACHE", "GOCACHE", "GOFLAGS"} { // not under the new home
		out, err := exec.Command("go", "env", v).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", v, err)
		}
		env = append(env, v+"="+strings.TrimSpace(string(out)))
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = filepath.Join("..", "..")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("bash", "-c", "set -euo pipefail\n"+blocks[0].body)
	if got := strings.TrimSpace(run("bash", "-c", "command -v pgpull")); got != filepath.Join(home, ".local", "bin", "pgpull") {
		t.Errorf("pgpull on PATH is %q; want the one installed", got)
	}
	if got := strings.TrimSpace(run("man", "-w", "pgpull")); !strings.HasPrefix(got, home) {
		t.Errorf("man -w pgpull = %q; want the page installed under %s", got, home)
	}
	comp := filepath.Join(home, ".local", "share", "bash-completion", "completions", "pgpull")
	if got := run("bash", "-c", "source "+comp+" && complete -p pgpull"); !strings.Contains(got, "-F _pgpull") {
		t.Errorf("bash: complete -p pgpull = %q", got)
	}
	run("zsh", "-c", "fpath=("+filepath.Join(home, ".zfunc")+" $fpath); autoload -U compinit && compinit -u -d "+filepath.Join(home, ".zcompdump")+
		" && [[ -n ${_comps[pgpull]} ]]")
}
