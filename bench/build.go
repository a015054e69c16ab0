package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// buildPgpull compiles ./cmd/pgpull from the module root into dir, with the build tags
// given ("" for the default build), and returns the binary's path. Benchmarks run the real
// binary, as a user would, so its CPU time and memory can be read from the child's rusage.
func buildPgpull(ctx context.Context, dir, tags string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == "/dev/null" {
		return "", fmt.Errorf("not inside the pgpull module: run from its checkout")
	}
	bin := filepath.Join(dir, "pgpull")
	args := []string{"build", "-o", bin}
	if tags != "" {
		bin += "-" + tags
		args = []string{"build", "-tags", tags, "-o", bin}
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/pgpull")...)
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s ./cmd/pgpull: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}
