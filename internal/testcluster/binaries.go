package testcluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// BinEnv names the environment variable that picks the server binaries (initdb, pg_ctl,
// postgres) of the major version to test against. Unset, the Debian install is used.
const BinEnv = "PGPULL_PG_BIN"

// fetchHint says how to get the server binaries of another major version.
const fetchHint = "PGPULL_PG_BIN=$(.ci/pg-majors 17) (any of 13, 14, 15, 16, 17, 18) fetches and names them"

// installHint is what to do when the Debian binaries are missing; tests fail with it rather
// than skip, so a CI without PostgreSQL cannot pass silently.
const installHint = "PostgreSQL binaries not found: install them with `apt-get install postgresql-15` or put pg_config on PATH"

// Binaries are the PostgreSQL programs a scratch cluster runs. The server side may be any major
// version; the client programs are the Debian install's, which talk to every major.
type Binaries struct {
	Server string // initdb, pg_ctl, postgres
	Client string // psql, pgbench, pg_amcheck, pg_verifybackup, pg_basebackup
	Major  int    // the server's major version
}

// ClientMajor is the client programs' major version: pg_basebackup refuses a newer server.
func (b Binaries) ClientMajor() (int, error) { return programMajor(b.Client, "pg_basebackup") }

// FindBinaries returns the server binaries named by $PGPULL_PG_BIN, or the Debian install's, and
// the Debian client programs. Each error says how to get what is missing.
func FindBinaries() (Binaries, error) {
	var b Binaries
	client, err := debianBindir()
	if err != nil {
		return b, err
	}
	b.Client, b.Server = client, client
	if dir := os.Getenv(BinEnv); dir != "" {
		if !hasServerBinaries(dir) {
			return b, fmt.Errorf("%s=%s lacks initdb, pg_ctl or postgres; %s", BinEnv, dir, fetchHint)
		}
		b.Server = dir
	}
	if b.Major, err = programMajor(b.Server, "postgres"); err != nil {
		return b, fmt.Errorf("%w; %s", err, fetchHint)
	}
	return b, nil
}

// Bindir returns the server binaries' directory (see FindBinaries).
func Bindir() (string, error) {
	b, err := FindBinaries()
	return b.Server, err
}

// ClientBindir returns the client programs' directory (see FindBinaries).
func ClientBindir() (string, error) {
	b, err := FindBinaries()
	return b.Client, err
}

// debianBindir asks pg_config on PATH first, then falls back to the newest Debian-style
// /usr/lib/postgresql/*/bin, because Debian puts neither initdb nor pg_ctl on PATH.
func debianBindir() (string, error) {
	if pgc, err := exec.LookPath("pg_config"); err == nil {
		out, err := exec.Command(pgc, "--bindir").Output()
		if err == nil {
			dir := strings.TrimSpace(string(out))
			if hasServerBinaries(dir) {
				return dir, nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, dir := range dirs {
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", errors.New(installHint)
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// pgMajor extracts the version from /usr/lib/postgresql/<major>/bin so that 15
// sorts above 9.6.
func pgMajor(dir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
	return v
}

// versionLine matches `postgres (PostgreSQL) 17.10`, `pg_basebackup (PostgreSQL) 15.18` and `... 18beta1`.
var versionLine = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// programMajor runs `prog --version`, which PostgreSQL's programs allow even as root.
func programMajor(dir, prog string) (int, error) {
	out, err := exec.Command(filepath.Join(dir, prog), "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("%s/%s --version: %w", dir, prog, err)
	}
	m := versionLine.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s/%s --version printed %q", dir, prog, bytes.TrimSpace(out))
	}
	return strconv.Atoi(string(m[1]))
}
