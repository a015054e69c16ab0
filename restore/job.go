package restore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pgpull/pgpull/internal/backupcheck"
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/sinks"
)

// job restores one backup into one directory: the whole restore, or one backup of a chain
// extracted to be combined (intermediate).
type job struct {
	opts    Options
	src     Source
	dir     string // absolute, checked by checkDataDir
	archive *walArchive
	mapping map[string]string
	// intermediate marks a chain's backup extracted for combining: an incremental backup is
	// what is expected, no recovery settings are written, and each tablespace goes to
	// spaceRoot/<oid>.
	intermediate bool
	spaceRoot    string
	// sources are directories no tablespace may go to (the chain's other backups); the
	// source's own are added.
	sources []string
	// known is where the server kept each tablespace, when the source cannot say (a chain's
	// combined copy): -T's OLD and the default target.
	known map[string]string

	x *extraction // once run
}

// run restores the backup, and on any failure takes back what it wrote.
func (j *job) run(ctx context.Context) (*Result, error) {
	sources := append(j.sources, sourceRoots(j.src)...)
	if err := j.checkMapped(sources); err != nil {
		return nil, err
	}
	data, err := openPlace(j.dir, j.opts.Owner)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", j.dir, err)
	}
	spaces := newTablespaces(data, j.opts.Owner, j.mapping, sources, j.opts.Delta, j.src.Name)
	spaces.root = j.spaceRoot
	for oid, dir := range j.known {
		spaces.learn(oid, dir)
	}
	if j.src.Path != "" {
		for oid, link := range sinks.LinkedTablespaces(j.src.Path) {
			spaces.learn(oid, link)
		}
	}
	if j.opts.Delta {
		spaces.linked = sinks.LinkedTablespaces(j.dir)
	}
	j.x = &extraction{source: j.src.Name, data: data, spaces: spaces, delta: j.opts.Delta, onManifest: j.checkManifest}
	res, err := j.restore(ctx, data, spaces)
	if err != nil {
		return nil, j.fail(err, data, spaces)
	}
	return res, nil
}

// restore writes, checks and finishes the data directory.
func (j *job) restore(ctx context.Context, data *place, spaces *tablespaces) (*Result, error) {
	if err := j.begin(data, j.opts.Delta); err != nil {
		return nil, err
	}
	stop := j.observe(ctx)
	rep, err := j.check(ctx)
	stop()
	if err != nil {
		return nil, err
	}
	if !rep.Whole() {
		for _, p := range rep.Problems {
			j.opts.Log("%s: %s", j.src.Name, p)
		}
		return nil, problemsError(j.src.Name, rep)
	}
	res := &Result{Form: rep.Form, WALSegments: rep.WALSegments, WALWhole: rep.WALWhole, Tablespaces: map[string]string{}}
	if err := j.finish(data, spaces, res); err != nil {
		return nil, err
	}
	res.Files, res.Bytes = j.x.tally.files.Load(), j.x.tally.bytes.Load()
	res.Rewritten, res.Unchanged = j.x.tally.rewritten.Load(), j.x.tally.unchanged.Load()
	return res, nil
}

// check reads the backup through the Checker, which hands it to the extraction.
func (j *job) check(ctx context.Context) (*backupcheck.Report, error) {
	c := j.opts.Checker
	c.Copy = j.x
	switch {
	case j.src.Objects != nil:
		return c.VerifyObjects(ctx, j.src.Objects, j.src.Name)
	case j.src.Stream != nil:
		return c.VerifyStream(ctx, j.src.Stream, j.src.Name)
	}
	return c.VerifyPath(ctx, j.src.Path)
}

// checkManifest checks, as soon as the manifest is read, what it alone can refuse: a recovery
// target before the backup's end or past the archive.
func (j *job) checkManifest(m *manifest.Parsed) error {
	if j.intermediate {
		return nil
	}
	return j.opts.Recovery.checkTarget(m, j.archive)
}

// checkMapped refuses, before anything is written, a -T target that is not absolute, overlaps
// the data directory, the backup or another target, or (outside a delta restore) holds anything.
func (j *job) checkMapped(sources []string) error {
	seen := map[string]string{}
	for old, target := range j.mapping {
		way := fmt.Sprintf("-T %s=%s", old, target)
		switch {
		case !filepath.IsAbs(target):
			return fmt.Errorf("%s: the new directory must be an absolute path", way)
		case overlap(filepath.Clean(target), j.dir):
			return fmt.Errorf("%s: the new directory overlaps the data directory %s; give one outside it", way, j.dir)
		}
		for _, src := range sources {
			if overlap(filepath.Clean(target), src) {
				return fmt.Errorf("%s: the new directory overlaps the backup's %s; give another", way, src)
			}
		}
		for other, t := range seen {
			if overlap(filepath.Clean(target), t) {
				return fmt.Errorf("%s: the new directory overlaps that of -T %s=%s", way, other, t)
			}
		}
		seen[old] = filepath.Clean(target)
		if empty, err := isEmpty(target); err == nil && !empty && !j.opts.Delta {
			return fmt.Errorf("%s: %s is not empty; give an empty or absent directory", way, target)
		}
	}
	return nil
}

// sourceRoots are the directories a local backup occupies: itself and, for a plain backup, where
// its tablespace links lead. No tablespace may be restored into them.
func sourceRoots(src Source) []string {
	if src.Path == "" {
		return nil
	}
	abs, err := filepath.Abs(src.Path)
	if err != nil {
		return nil
	}
	roots := []string{abs}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		for _, link := range sinks.LinkedTablespaces(abs) {
			roots = append(roots, link)
		}
	}
	return roots
}

// fail takes back what the restore wrote, and says so with the error.
func (j *job) fail(err error, data *place, spaces *tablespaces) error {
	for _, pl := range spaces.places() {
		pl.rollback() // only what it made, or filled when it was empty
	}
	kept := !data.wasEmpty && data.madeTop == ""
	if rerr := data.rollback(); rerr != nil {
		return fmt.Errorf("%w (and removing what was written: %v)", err, rerr)
	}
	if kept && j.opts.Delta {
		return fmt.Errorf("%w; %s is left unfinished (it holds %s and no global/pg_control, so it cannot start): run the restore again to complete it",
			err, j.dir, sinks.IncompleteMarker)
	}
	return err
}

// label reads the backup's backup_label, refusing an incremental backup given alone.
func (j *job) label() (pgformat.BackupLabel, error) {
	raw := j.x.heldBytes(labelName)
	if raw == nil {
		return pgformat.BackupLabel{}, fmt.Errorf("%s has no backup_label: it is no base backup", j.src.Name)
	}
	l, err := pgformat.ParseBackupLabel(raw)
	if err != nil {
		return l, fmt.Errorf("%s: %w", j.src.Name, err)
	}
	if l.Incremental() && !j.intermediate {
		return l, fmt.Errorf("%s is an incremental backup (INCREMENTAL FROM LSN %s), which cannot start alone: give its chain, the full backup first: pgpull restore FULL INCREMENTAL... DIR",
			j.src.Name, l.IncrementalFromLSN)
	}
	return l, nil
}
