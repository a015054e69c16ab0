package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// target is what every tool backs up, and how to reach it.
type target struct {
	dsn       string // what clients connect with (through the net shaper, if any)
	dataDir   string // local data directory, for pgBackRest and tar; "" if unknown
	socketDir string // unix socket directory, for pgBackRest
	port      int
	bindir    string // PostgreSQL client binaries (pg_basebackup)
	pgpull    string // the pgpull binary under test
	// pgpullLibzstd is the same tree built with -tags libzstd, when pgpull-libzstd is measured.
	pgpullLibzstd string
	pgbackrest    string // pgbackrest on PATH, or ""
	work          *workDir
}

// runConfig runs cfg once and measures it.
func (t *target) runConfig(ctx context.Context, cfg config, run int) sample {
	s := sample{Config: cfg.name(), Tool: cfg.tool, Jobs: cfg.jobs, RangeSize: cfg.rangeSize, Compress: cfg.comp.String(), Run: run}
	var u childUsage
	var err error
	switch cfg.tool {
	case toolPgpull, toolPgpullLibzstd:
		args := append(append(append([]string{"backup"}, jobsFlag(cfg.jobs)...), "-c", "fast", "--range-size", cfg.rangeSize),
			cfg.pgpullArgs()...)
		bin := t.pgpull
		if cfg.tool == toolPgpullLibzstd {
			bin = t.pgpullLibzstd
		}
		u, err = runChild(ctx, exec.CommandContext(ctx, bin, append(args, t.dsn, "-")...))
	case toolBasebackup:
		// -X fetch: WAL comes at the end in the same stream, as with pgpull;
		// -X stream would be refused with -D -.
		args := append([]string{"-d", t.dsn, "-D", "-", "-Ft", "-X", "fetch", "-c", "fast"}, cfg.comp.basebackupArgs()...)
		u, err = runChild(ctx, exec.CommandContext(ctx, filepath.Join(t.bindir, "pg_basebackup"), args...))
	case toolTar:
		// The ceiling: reading the files locally with no database in the
		// way. pg_wal is left out as the backups leave out old WAL.
		u, err = runChild(ctx, exec.CommandContext(ctx, "tar", "-c", "-f", "-", "--exclude=./pg_wal/*", "-C", t.dataDir, "."))
	case toolPgbackrest:
		u, err = t.runPgbackrest(ctx, cfg)
	default:
		err = fmt.Errorf("unknown tool %q", cfg.tool)
	}
	s.WallSec, s.UserSec, s.SysSec = u.wall.Seconds(), u.user.Seconds(), u.sys.Seconds()
	s.PeakRSSKiB, s.BytesOut = u.peakRSSKiB, u.stdout
	s.FirstByteSec, s.TailSec = u.firstByte.Seconds(), u.tail.Seconds()
	if err != nil {
		s.Error = err.Error()
	}
	return s
}

// runPgbackrest takes a full backup into a fresh repository. pgBackRest is
// an agent on the database host: it reads the data directory itself, so it
// runs as the data directory's owner and needs no network path to it. The
// repository is remade each run (stanza-create is not timed) so every run
// is a first full backup; its size on disk is the bytes out.
func (t *target) runPgbackrest(ctx context.Context, cfg config) (childUsage, error) {
	owner, err := fileOwnerOf(t.dataDir)
	if err != nil {
		return childUsage{}, err
	}
	base := t.work.join("pgbackrest")
	if err := os.RemoveAll(base); err != nil {
		return childUsage{}, err
	}
	repo := filepath.Join(base, "repo")
	for _, d := range []string{repo, filepath.Join(base, "log"), filepath.Join(base, "lock")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return childUsage{}, err
		}
		if err := os.Chown(d, owner.uid, owner.gid); err != nil {
			return childUsage{}, err
		}
	}
	if err := os.Chown(base, owner.uid, owner.gid); err != nil {
		return childUsage{}, err
	}
	conf := strings.Join([]string{
		"[global]",
		"repo1-path=" + repo,
		"repo1-retention-full=1",
		"log-path=" + filepath.Join(base, "log"),
		"lock-path=" + filepath.Join(base, "lock"),
		"log-level-console=warn",
		"log-level-file=off",
		"start-fast=y",
		// No archive_command is set up on the bench cluster: the backup's
		// WAL is not part of what is timed for pgBackRest.
		"archive-check=n",
		"",
		"[bench]",
		"pg1-path=" + t.dataDir,
		"pg1-socket-path=" + t.socketDir,
		"pg1-port=" + strconv.Itoa(t.port),
		"pg1-user=postgres",
		"",
	}, "\n")
	confPath := filepath.Join(base, "pgbackrest.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return childUsage{}, err
	}
	common := []string{"--config=" + confPath, "--stanza=bench"}
	if _, err := runChild(ctx, owner.command(ctx, t.pgbackrest, append(common, "stanza-create")...)); err != nil {
		return childUsage{}, err
	}
	args := append(common, "--process-max="+strconv.Itoa(cfg.jobs))
	args = append(args, cfg.comp.pgbackrestArgs()...)
	u, err := runChild(ctx, owner.command(ctx, t.pgbackrest, append(args, "backup", "--type=full")...))
	if err != nil {
		return u, err
	}
	u.stdout, err = treeSize(filepath.Join(repo, "backup"))
	return u, err
}

// dirOwner is the OS account that owns a data directory.
type dirOwner struct {
	name     string
	uid, gid int
}

func fileOwnerOf(path string) (dirOwner, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return dirOwner{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return dirOwner{}, fmt.Errorf("%s: no owner information", path)
	}
	u, err := user.LookupId(strconv.Itoa(int(st.Uid)))
	if err != nil {
		return dirOwner{}, err
	}
	return dirOwner{name: u.Username, uid: int(st.Uid), gid: int(st.Gid)}, nil
}

// command runs prog as the owner: through runuser when we are root and the
// owner is not, directly otherwise. rusage then still covers prog, since
// runuser waits for it.
func (o dirOwner) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 && o.uid != 0 {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", o.name, "--", prog}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, prog, args...)
	}
	cmd.Dir = "/"
	return cmd
}

// treeSize sums the sizes of the regular files under dir.
func treeSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
