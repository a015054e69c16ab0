// Package combine rebuilds a plain data directory from a chain of plain backups, a full backup
// and the incremental backups taken after it, as PostgreSQL 17's pg_combinebackup does: the
// newest backup's files, each INCREMENTAL file rebuilt block by block from the newest backup that
// has the block. docs/incremental.md gives the rules and their reasons.
package combine

import (
	"errors"
	"fmt"
	"time"

	"github.com/pgpull/pgpull/internal/manifest"
)

// Options tune Combine.
type Options struct {
	// Tablespaces maps the OID of each tablespace the newest backup links to (pg_tblspc/<oid> a
	// symbolic link) to the directory its files go to, absent or empty; the output's
	// pg_tblspc/<oid> links to it. A tablespace kept as a directory inside the backup (in place)
	// stays inside the output and needs no entry.
	Tablespaces map[string]string
	// Checksum is the algorithm of the file checksums in the output's backup_manifest: CRC32C,
	// the zero value, as pg_combinebackup and pg_basebackup default to.
	Checksum manifest.Algorithm
	// NoSync skips every fsync.
	NoSync bool
}

// Combine writes into out (absent or empty) the data directory the chain of plain backup
// directories, oldest (the full backup) first, restores to: the state of the newest, ready to
// start. It checks the whole chain before writing anything and refuses a broken one with an error
// naming the backup at fault. Until it returns nil, out holds a marker file and no
// global/pg_control, and on an error it removes what it wrote.
func Combine(chain []string, out string, opts Options) (err error) {
	if len(chain) == 0 {
		return errors.New("combine: no backups given")
	}
	backups := make([]*backup, len(chain))
	for i, dir := range chain {
		if backups[i], err = loadBackup(dir); err != nil {
			return err
		}
	}
	if err := checkChain(backups); err != nil {
		return err
	}
	p, err := planOutput(backups, opts)
	if err != nil {
		return err
	}
	o, err := newOutput(out, p.linked, backups, !opts.NoSync)
	if err != nil {
		return err
	}
	newest := backups[len(backups)-1]
	defer func() {
		if err != nil {
			if rerr := o.rollback(); rerr != nil {
				err = fmt.Errorf("%w (and removing what was written: %v)", err, rerr)
			}
		}
	}()
	if err := o.create(time.Now()); err != nil {
		return err
	}
	w := &writer{out: o, alg: opts.Checksum,
		manifest: manifest.New(newest.manifest.Version, newest.manifest.SystemID, opts.Checksum)}
	if err := w.writeAll(newest, p); err != nil {
		return err
	}
	return o.finish()
}
