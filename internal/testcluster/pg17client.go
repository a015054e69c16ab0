package testcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// PG17ClientEnv names the environment variable giving the bin directory of PostgreSQL 17's
// client programs (pg_combinebackup, pg_verifybackup, pg_basebackup, psql), as .ci/pg17-client
// prints it.
const PG17ClientEnv = "PGPULL_PG17_CLIENT"

// pg17ClientCache is where .ci/pg17-client puts them when run as root.
const pg17ClientCache = "/var/cache/pgpull/pg17-client/bin"

// PG17ClientBin finds PostgreSQL 17's client programs: $PGPULL_PG17_CLIENT, else the cache
// .ci/pg17-client fills, else ../shared/tools/pg17-client/bin beside the repository. The error
// says how to get them; tests fail with it rather than skip.
func PG17ClientBin() (string, error) {
	var tried []string
	try := func(dir string) bool {
		tried = append(tried, dir)
		fi, err := os.Stat(filepath.Join(dir, "pg_combinebackup"))
		return err == nil && !fi.IsDir()
	}
	if dir := os.Getenv(PG17ClientEnv); dir != "" {
		if try(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%s=%s holds no pg_combinebackup; `.ci/pg17-client` fetches PostgreSQL 17's client programs and prints their directory", PG17ClientEnv, dir)
	}
	if try(pg17ClientCache) {
		return pg17ClientCache, nil
	}
	if root, err := repoRoot(); err == nil {
		if dir := filepath.Join(filepath.Dir(root), "shared", "tools", "pg17-client", "bin"); try(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL 17's client programs not found (tried %s): run `.ci/pg17-client`, which fetches them into %s",
		strings.Join(tried, ", "), filepath.Dir(pg17ClientCache))
}

// repoRoot is the directory of the go.mod above the working directory: the repository a test
// runs in.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if parent := filepath.Dir(dir); parent != dir {
			dir = parent
			continue
		}
		return "", errors.New("no go.mod above the working directory")
	}
}

// Server17Bin returns the server binaries of PostgreSQL 17: $PGPULL_PG_BIN when it names 17's,
// else what `.ci/pg-majors 17` prints (fetching them when its cache lacks them), for tests that
// need exactly 17, such as those comparing with pg_combinebackup 17, which refuses other majors.
func Server17Bin(ctx context.Context) (string, error) {
	if b, err := FindBinaries(); err == nil && b.Major == 17 {
		return b.Server, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, filepath.Join(root, ".ci", "pg-majors"), "17").Output()
	if err != nil {
		return "", fmt.Errorf("PostgreSQL 17's server binaries: .ci/pg-majors 17: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if major, err := programMajor(dir, "postgres"); err != nil || major != 17 {
		return "", fmt.Errorf("PostgreSQL 17's server binaries: .ci/pg-majors 17 printed %q, whose postgres is major %d (%v)", dir, major, err)
	}
	return dir, nil
}

// ClientEnv is the environment that points a client program (of any version) at this cluster
// over its unix socket, so that callers' arguments can come in any order.
func (c *Cluster) ClientEnv() []string {
	return append(os.Environ(),
		"PGHOST="+c.SocketDir,
		"PGPORT="+strconv.Itoa(c.Port),
		"PGUSER=postgres",
		"PGDATABASE=postgres",
		"PGSSLMODE=disable",
		"PGPASSWORD=",
	)
}
