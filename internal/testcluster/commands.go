package testcluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
)

// serverCmd runs a server-side PostgreSQL program, as the postgres user when
// we are root (PostgreSQL refuses root). Dir is "/" so the program never
// trips over a working directory the postgres user cannot enter.
func (c *Cluster) serverCmd(ctx context.Context, prog string, args ...string) *exec.Cmd {
	path := filepath.Join(c.Bindir, prog)
	var cmd *exec.Cmd
	if c.owner != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.owner.name, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

// clientCmd runs a client program against this cluster over its unix socket (ClientEnv).
func (c *Cluster) clientCmd(ctx context.Context, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.ClientBin, prog), args...)
	cmd.Env = c.ClientEnv()
	return cmd
}

// Pgbench returns a pgbench command against this cluster with args appended,
// e.g. "-i", "-s", "10" or "-c", "4", "-T", "30". Connection settings are in
// its environment.
func (c *Cluster) Pgbench(ctx context.Context, args ...string) *exec.Cmd {
	return c.clientCmd(ctx, "pgbench", args...)
}

// Psql returns a psql command against this cluster with args appended.
func (c *Cluster) Psql(ctx context.Context, args ...string) *exec.Cmd {
	return c.clientCmd(ctx, "psql", append([]string{"-X", "-v", "ON_ERROR_STOP=1"}, args...)...)
}
