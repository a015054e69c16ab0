package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/pgpull/pgpull/internal/backupcheck"
)

// Source is one backup given to restore, in one of the forms pgpull writes.
type Source struct {
	// Name is the backup as the user gave it, for messages.
	Name string
	// Path is a plain backup directory, a -F tar directory, or a file holding a tar stream;
	// "" for the two below.
	Path string
	// Stream is a tar stream read once, as from stdin.
	Stream io.Reader
	// Objects is a backup under an s3:// prefix.
	Objects backupcheck.Objects
}

// Options say what to restore where.
type Options struct {
	// Sources is one backup, or a chain: the full backup, then each incremental one on the
	// backup before it.
	Sources []Source
	// Dir is where the data directory goes: absent or empty, or with Delta a data directory.
	Dir string
	// Mapping is -T OLD=NEW: the tablespace the server kept at OLD (or whose OID is OLD) goes to
	// NEW. An unmapped tablespace goes where the server kept it, as tablespace_map says.
	Mapping map[string]string
	// Owner, when set, is given every file and directory restored.
	Owner *Owner
	// Delta brings the data directory in Dir up to the backup, writing only what differs.
	Delta bool
	// NoSync skips every fsync.
	NoSync bool
	// Recovery is what the server does at its first start.
	Recovery Recovery
	// Checker reads and checks the backups; its Copy is restore's own.
	Checker backupcheck.Checker
	// TempDir holds a chain's backups while they are combined; beside Dir when "".
	TempDir string
	// Log, when set, is told what the restore does (-v).
	Log func(format string, args ...any)
	// Observe, when set, gets the restore's progress about every second, from one goroutine.
	Observe func(Progress)
	// Now dates what restore writes; time.Now when nil.
	Now func() time.Time
}

// Result is what a restore did.
type Result struct {
	Form        string // the form of the backup read, as backupcheck names it
	Files       int64  // files written (or, in a delta restore, brought up to the backup)
	Bytes       int64  // bytes written
	Rewritten   int64  // delta: files that differed from the backup and were written
	Unchanged   int64  // delta: files that were as the backup has them
	Removed     int64  // delta: files the backup does not hold, removed
	WALSegments int
	WALWhole    bool
	Tablespaces map[string]string // OID -> the directory it went to
	Signal      string            // recovery.signal or standby.signal when written
	Chain       int               // backups combined; 0 for one backup
}

// Run restores the backup (or chain) into Dir, checking it against its manifest on the way. It
// refuses, before writing anything, a Dir a server runs from or that holds anything (without
// Delta), and settings that do not go together. Dir cannot start until Run returns nil; on an
// error what Run wrote is removed, unless Delta found a data directory there, which is then left
// unfinished (it holds the marker and no pg_control) for a rerun to complete.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if len(opts.Sources) == 0 {
		return nil, errors.New("restore: no backup given")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	if err := opts.Recovery.Check(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := checkDataDir(dir, opts.Delta); err != nil {
		return nil, err
	}
	if err := checkApart(dir, opts); err != nil {
		return nil, err
	}
	var archive *walArchive
	if opts.Recovery.WALArchive != "" {
		if archive, err = readArchive(opts.Recovery.WALArchive); err != nil {
			return nil, err
		}
		if err := opts.Recovery.checkArchive(archive); err != nil {
			return nil, err
		}
	}
	if len(opts.Sources) > 1 {
		return runChain(ctx, opts, dir, archive)
	}
	j := &job{opts: opts, src: opts.Sources[0], dir: dir, archive: archive, mapping: opts.Mapping}
	return j.run(ctx)
}

// checkApart refuses a DIR that overlaps a backup given, or a --temp-dir inside DIR.
func checkApart(dir string, opts Options) error {
	for _, src := range opts.Sources {
		for _, root := range sourceRoots(src) {
			if overlap(dir, root) {
				return fmt.Errorf("%s overlaps the backup %s (at %s): restore into a directory apart from it", dir, src.Name, root)
			}
		}
	}
	if opts.TempDir != "" {
		if tmp, err := filepath.Abs(opts.TempDir); err == nil && within(tmp, dir) {
			return fmt.Errorf("--temp-dir %s is inside %s, which the restore fills: give a directory outside it", opts.TempDir, dir)
		}
	}
	return nil
}

// problemsError says that the backup failed its check, with its first problem.
func problemsError(name string, rep *backupcheck.Report) error {
	more := ""
	if n := len(rep.Problems) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more; pgpull verify %s lists them)", n, name)
	}
	return fmt.Errorf("%s does not match its backup_manifest, so nothing was restored: %s%s", name, rep.Problems[0], more)
}
