package restore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pgpull/pgpull/internal/combine"
	"github.com/pgpull/pgpull/sinks"
)

// runChain restores a chain of backups, the full one first. A backup in a plain directory is
// checked where it is; any other form is extracted, checked, into a temporary directory beside
// the data directory. combine (internal/combine) rebuilds the newest backup from them into a
// temporary directory as well, and that is restored into dir as a plain backup is: checked
// against the manifest combine wrote, with -T, the owner, the recovery settings and --delta.
// The temporary directories are removed however it ends; they need room for the chain's
// non-plain backups and one copy of the data directory.
func runChain(ctx context.Context, opts Options, dir string, archive *walArchive) (*Result, error) {
	parent := opts.TempDir
	if parent == "" {
		parent = filepath.Dir(dir)
	}
	tmp, err := os.MkdirTemp(parent, ".pgpull-restore-")
	if err != nil {
		return nil, fmt.Errorf("a temporary directory for the chain: %w (give another place with --temp-dir)", err)
	}
	defer os.RemoveAll(tmp)
	dirs := make([]string, len(opts.Sources))
	names := make([]string, 0, 2*len(opts.Sources))
	var known map[string]string
	var roots []string
	for i, src := range opts.Sources {
		if dirs[i], known, err = chainMember(ctx, opts, src, filepath.Join(tmp, strconv.Itoa(i))); err != nil {
			return nil, err
		}
		names = append(names, dirs[i], src.Name)
		roots = append(roots, sourceRoots(src)...)
	}
	combined := filepath.Join(tmp, "combined")
	links := sinks.LinkedTablespaces(dirs[len(dirs)-1])
	spaces := map[string]string{}
	for oid := range links {
		spaces[oid] = filepath.Join(tmp, "combined.ts", oid)
	}
	if err := os.Mkdir(filepath.Join(tmp, "combined.ts"), dirMode); err != nil {
		return nil, err
	}
	opts.Log("combining %d backups", len(dirs))
	if err := combine.Combine(dirs, combined, combine.Options{Tablespaces: spaces, NoSync: true}); err != nil {
		return nil, errors.New(strings.NewReplacer(names...).Replace(err.Error()))
	}
	mapping, err := chainMapping(opts.Mapping, slices.Sorted(maps.Keys(links)), known, opts.Sources[len(opts.Sources)-1].Name)
	if err != nil {
		return nil, err
	}
	j := &job{opts: opts, dir: dir, archive: archive, mapping: mapping, known: known, sources: roots,
		src: Source{Name: "the chain " + opts.Sources[0].Name + " ... " + opts.Sources[len(opts.Sources)-1].Name, Path: combined}}
	res, err := j.run(ctx)
	if err != nil {
		return nil, err
	}
	res.Chain = len(dirs)
	return res, nil
}

// chainMember makes one backup of a chain a plain directory combine can read: a plain backup
// checked where it is, any other extracted and checked into sub. known is where the server kept
// each of its tablespaces, as the backup says.
func chainMember(ctx context.Context, opts Options, src Source, sub string) (string, map[string]string, error) {
	if src.Path != "" && isPlainBackup(src.Path) {
		opts.Log("checking %s", src.Name)
		rep, err := opts.Checker.VerifyPath(ctx, src.Path)
		if err != nil {
			return "", nil, err
		}
		if !rep.Whole() {
			return "", nil, problemsError(src.Name, rep)
		}
		return src.Path, sinks.LinkedTablespaces(src.Path), nil
	}
	opts.Log("extracting %s into %s", src.Name, sub)
	member := opts
	member.Delta, member.Owner, member.NoSync, member.Recovery = false, nil, true, Recovery{}
	j := &job{opts: member, src: src, dir: sub, intermediate: true, spaceRoot: sub + ".ts"}
	if _, err := j.run(ctx); err != nil {
		return "", nil, err
	}
	return sub, j.x.spaces.knownPaths(), nil
}

// isPlainBackup reports whether dir is a directory without base.tar, as backupcheck tells a
// plain backup from -F tar archives.
func isPlainBackup(dir string) bool {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return false
	}
	for _, name := range []string{"base.tar", "base.tar.gz", "base.tar.zst", "base.tar.lz4"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return false
		}
	}
	return true
}

// chainMapping turns -T OLD=NEW, OLD where the newest backup says the server kept a tablespace
// (or its OID), into the OIDs of the newest backup's tablespaces.
func chainMapping(given map[string]string, oids []string, known map[string]string, newest string) (map[string]string, error) {
	out := map[string]string{}
	used := map[string]bool{}
	for _, oid := range oids {
		for _, key := range []string{oid, known[oid]} {
			if target, ok := given[cleanOld(key)]; ok && key != "" {
				out[oid], used[cleanOld(key)] = target, true
				break
			}
		}
	}
	for _, old := range slices.Sorted(maps.Keys(given)) {
		if !used[cleanOld(old)] {
			return nil, fmt.Errorf("-T %s: the newest backup %s has no tablespace there", old, newest)
		}
	}
	return out, nil
}
