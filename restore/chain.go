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
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/sinks"
)

// runChain restores a chain of backups, the full one first. A backup in a plain directory is
// checked where it is; any other form is extracted, checked, into a temporary directory beside
// the data directory. combine (internal/combine) rebuilds the newest backup from them straight
// into dir and the tablespaces' targets, which are then sealed as a restore seals them (owner,
// recovery settings, pg_control last). With --delta it rebuilds into a temporary directory, and
// dir is brought up to that as to a plain backup. The temporary directories are removed however
// it ends; they need room for the chain's non-plain backups (and with --delta one copy of the
// data directory).
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
	name := "the chain " + opts.Sources[0].Name + " ... " + opts.Sources[len(opts.Sources)-1].Name
	newest := dirs[len(dirs)-1]
	translate := strings.NewReplacer(names...)
	var res *Result
	if opts.Delta {
		res, err = combineThenDelta(ctx, opts, dir, archive, dirs, filepath.Join(tmp, "combined"), known, roots, name)
	} else {
		j := &job{opts: opts, dir: dir, src: Source{Name: name}, known: known, sources: roots, archive: archive}
		res, err = j.combineInto(dirs, sinks.LinkedTablespaces(newest))
	}
	if err != nil {
		return nil, errors.New(translate.Replace(err.Error()))
	}
	res.Chain = len(dirs)
	return res, nil
}

// combineInto rebuilds the chain (dirs, plain, the full backup first) straight into the data
// directory and its tablespaces' targets, made first as a restore makes them, then seals it as
// a restore does: marker, recovery settings, owner and modes, pg_control last. links are the
// newest backup's tablespaces.
func (j *job) combineInto(dirs []string, links map[string]string) (*Result, error) {
	data, err := openPlace(j.dir, j.opts.Owner)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", j.dir, err)
	}
	spaces := newTablespaces(data, j.opts.Owner, j.opts.Mapping, j.sources, false, j.src.Name)
	for oid, dir := range j.known {
		spaces.learn(oid, dir)
	}
	res := &Result{Form: "chain", Tablespaces: map[string]string{}}
	var count tally
	err = func() error {
		places := []*place{data}
		for _, oid := range slices.Sorted(maps.Keys(links)) {
			pl, err := spaces.prepare(oid)
			if err != nil {
				return err
			}
			res.Tablespaces[oid] = pl.path
			places = append(places, pl)
		}
		if unused := spaces.unused(); len(unused) > 0 {
			return fmt.Errorf("-T %s: the newest backup of %s has no tablespace there (%s)", unused[0], j.src.Name, spaces.describeKnown())
		}
		if err := j.checkNewest(dirs[len(dirs)-1]); err != nil {
			return err
		}
		j.opts.Log("combining %d backups into %s", len(dirs), j.dir)
		if err := combine.Combine(dirs, j.dir, combine.Options{Tablespaces: res.Tablespaces, NoSync: j.opts.NoSync}); err != nil {
			return err
		}
		control, err := os.ReadFile(filepath.Join(j.dir, filepath.FromSlash(controlName)))
		if err == nil {
			err = j.begin(data, true)
		}
		if err == nil {
			err = j.seal(data, places, control, res, &count)
		}
		return err
	}()
	if err != nil {
		return nil, j.fail(err, data, spaces)
	}
	res.Files, res.Bytes = count.files.Load(), count.bytes.Load()
	return res, nil
}

// checkNewest holds the recovery target to the newest backup's end, which is the rebuilt one's.
func (j *job) checkNewest(newest string) error {
	raw, err := os.ReadFile(filepath.Join(newest, manifestName))
	if err != nil {
		return err
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", newest, err)
	}
	return j.checkManifest(m)
}

// combineThenDelta rebuilds the chain into combined, a temporary directory, and brings the data
// directory in dir up to it as --delta does for one backup.
func combineThenDelta(ctx context.Context, opts Options, dir string, archive *walArchive, dirs []string, combined string,
	known map[string]string, roots []string, name string) (*Result, error) {
	links := sinks.LinkedTablespaces(dirs[len(dirs)-1])
	spaces := map[string]string{}
	for oid := range links {
		spaces[oid] = filepath.Join(combined+".ts", oid)
	}
	if err := os.Mkdir(combined+".ts", dirMode); err != nil {
		return nil, err
	}
	opts.Log("combining %d backups into %s", len(dirs), combined)
	if err := combine.Combine(dirs, combined, combine.Options{Tablespaces: spaces, NoSync: true}); err != nil {
		return nil, err
	}
	mapping, err := chainMapping(opts.Mapping, slices.Sorted(maps.Keys(links)), known, opts.Sources[len(opts.Sources)-1].Name)
	if err != nil {
		return nil, err
	}
	j := &job{opts: opts, dir: dir, archive: archive, mapping: mapping, known: known, sources: roots, src: Source{Name: name, Path: combined}}
	return j.run(ctx)
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
