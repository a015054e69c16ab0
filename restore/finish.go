package restore

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pgpull/pgpull/sinks"
)

// begin marks the data directory unfinished before anything else is written, then, in a delta
// restore or after combine, removes global/pg_control: from here until finish, it cannot start.
func (j *job) begin(data *place, removeControl bool) error {
	text := "This directory is an unfinished restore by `pgpull restore` (started " + j.opts.Now().UTC().Format("2006-01-02 15:04:05 MST") + ").\n" +
		"It has no global/pg_control and cannot start as a cluster. Run the restore again with --delta to complete it.\n"
	data.mark(sinks.IncompleteMarker)
	f, err := data.root.OpenFile(sinks.IncompleteMarker, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return fmt.Errorf("%s: %w", j.dir, err)
	}
	if _, err = f.WriteString(text); err == nil && !j.opts.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && removeControl {
		if err = data.root.Remove(filepath.FromSlash(controlName)); os.IsNotExist(err) {
			err = nil
		}
	}
	if err == nil {
		err = j.syncDir(data, ".")
	}
	if err != nil {
		return fmt.Errorf("marking %s unfinished: %w", j.dir, err)
	}
	return nil
}

// finish turns a data directory read whole and found as its manifest says into one that starts:
// backup_manifest, a delta restore's stale files removed, the recovery settings, owner and modes,
// everything on disk, then global/pg_control, and last the marker removed.
func (j *job) finish(data *place, spaces *tablespaces, res *Result) error {
	if _, err := j.label(); err != nil {
		return err
	}
	control := j.x.heldBytes(controlName)
	if control == nil {
		return fmt.Errorf("%s has no %s: it is no base backup", j.src.Name, controlName)
	}
	if unused := spaces.unused(); len(unused) > 0 {
		return fmt.Errorf("-T %s: %s has no tablespace there (%s)", unused[0], j.src.Name, spaces.describeKnown())
	}
	if err := j.writeFile(data, manifestName, j.x.keptManifest()); err != nil {
		return err
	}
	places := []*place{data}
	for oid, pl := range spaces.places() {
		res.Tablespaces[oid] = pl.path
		places = append(places, pl)
	}
	if j.opts.Delta {
		for _, pl := range places {
			n, err := pl.removeStale(sinks.IncompleteMarker)
			res.Removed += n
			if err != nil {
				return fmt.Errorf("removing what the backup does not hold from %s: %w", pl.path, err)
			}
		}
	}
	return j.seal(data, places, control, res, nil)
}

// seal turns a data directory whose files are all in place into one that starts: the recovery
// settings, owner and modes of every place, everything on disk, then global/pg_control, and
// last the marker removed. With count, the files and bytes settled are counted in it.
func (j *job) seal(data *place, places []*place, control []byte, res *Result, count *tally) error {
	if !j.intermediate && j.opts.Recovery.active() {
		if err := j.writeRecovery(data, res); err != nil {
			return err
		}
	}
	for _, pl := range places {
		if err := j.settle(pl, count); err != nil {
			return err
		}
	}
	if err := j.writeFile(data, controlName, control); err != nil {
		return err
	}
	if err := data.root.Remove(sinks.IncompleteMarker); err != nil {
		return fmt.Errorf("%s: %w", j.dir, err)
	}
	return j.syncDir(data, ".")
}

// writeFile writes a whole file of the data directory, replacing any, on disk when it returns.
func (j *job) writeFile(data *place, name string, body []byte) error {
	data.mark(name)
	local := filepath.FromSlash(name)
	f, err := data.root.OpenFile(local, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return fmt.Errorf("writing %s: %w", data.full(name), err)
	}
	_, err = f.Write(body)
	if err == nil {
		err = j.opts.Owner.chownFile(f)
	}
	if err == nil && !j.opts.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = j.syncDir(data, filepath.Dir(local))
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", data.full(name), err)
	}
	return nil
}

// writeRecovery appends the recovery settings to postgresql.auto.conf and writes the signal
// file that makes the server read them, removing the other one.
func (j *job) writeRecovery(data *place, res *Result) error {
	r := j.opts.Recovery
	f, err := data.root.OpenFile("postgresql.auto.conf", os.O_WRONLY|os.O_CREATE|os.O_APPEND, fileMode)
	if err != nil {
		return fmt.Errorf("writing the recovery settings: %w", err)
	}
	_, err = f.WriteString(r.settings(j.opts.Now()))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	write, remove := r.signal()
	if err == nil {
		err = j.writeFile(data, write, nil)
	}
	if rerr := data.root.Remove(remove); err == nil && rerr != nil && !os.IsNotExist(rerr) {
		err = rerr
	} else if rerr == nil {
		j.opts.Log("removed %s, which the backup held: the restore writes %s", remove, write)
	}
	if err != nil {
		return fmt.Errorf("writing the recovery settings: %w", err)
	}
	res.Signal = write
	return nil
}

// settle gives everything in the place the modes PostgreSQL wants (0700, 0600) and the owner,
// and makes it durable, files first and then their directories; count, when set, counts the
// files and their bytes.
func (j *job) settle(pl *place, count *tally) error {
	var dirs []string
	err := fs.WalkDir(pl.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		local := filepath.FromSlash(p)
		if err := j.opts.Owner.chownIn(pl.root, local); err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return nil
		case d.IsDir():
			dirs = append(dirs, local)
			return pl.root.Chmod(local, dirMode)
		}
		if err := pl.root.Chmod(local, fileMode); err != nil {
			return err
		}
		if count != nil {
			if info, err := d.Info(); err == nil {
				count.files.Add(1)
				count.bytes.Add(info.Size())
			}
		}
		return j.syncFile(pl, local)
	})
	for i := len(dirs) - 1; err == nil && i >= 0; i-- {
		err = j.syncDir(pl, dirs[i])
	}
	if err != nil {
		return fmt.Errorf("settling %s: %w", pl.path, err)
	}
	if pl.madeTop != "" && !j.opts.NoSync {
		return j.syncParent(pl.path)
	}
	return nil
}

// syncFile fsyncs a file of the place, unless fsync is off.
func (j *job) syncFile(pl *place, local string) error {
	if j.opts.NoSync {
		return nil
	}
	f, err := pl.root.Open(local)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir fsyncs a directory of the place, unless fsync is off.
func (j *job) syncDir(pl *place, local string) error {
	return j.syncFile(pl, local)
}

// syncParent fsyncs the directory holding dir, where its entry was made.
func (j *job) syncParent(dir string) error {
	f, err := os.Open(filepath.Dir(dir))
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
