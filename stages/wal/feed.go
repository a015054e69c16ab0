package wal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// Feed keeps a directory of WAL up to date from a running server, over one plain connection,
// for a warm standby whose restore_command copies from that directory. It is pg_basebackup.py's
// WAL loop run alone: every Interval it lists pg_wal, and copies each segment whose change time
// (ctime) moved since its last copy, so the segment being written is copied again as it fills and
// the standby can replay what the primary has written so far.
type Feed struct {
	Conn        *pgx.Conn
	Dir         string
	SegmentSize int64
	Interval    time.Duration
	LogSQL      func(string)
	Log         func(format string, args ...any)

	copied map[string]copyState
}

// copyState is what the feed knows of its last copy of a file.
type copyState struct {
	ctime   time.Time // the file's change time when it was listed for that copy
	at      time.Time // when the copy was read, by the server's clock, as ctime is
	partial bool      // the server was still writing the segment
}

// stale reports whether the file, as listed now, may hold more than the last copy: its ctime
// moved; or it was being written then and is finished now; or it is being written and moved
// within the second of the last copy, which ctime, counted in whole seconds, cannot show.
func (c copyState) stale(ctime time.Time, finished bool) bool {
	switch {
	case !ctime.Equal(c.ctime):
		return true
	case c.partial && finished:
		return true
	case c.partial:
		return !c.at.After(ctime.Add(time.Second))
	}
	return false
}

// walFile is one file of pg_wal as a scan sees it.
type walFile struct {
	name  string
	ctime time.Time
}

// Run copies until ctx ends, then returns nil; it fails only when the server or the directory
// does.
func (f *Feed) Run(ctx context.Context) error {
	f.copied = map[string]copyState{}
	first, err := f.firstSegment(ctx)
	if err != nil {
		return err
	}
	for {
		if err := f.pass(ctx, first); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.Interval):
		}
	}
}

// firstSegment is where the feed starts: after the newest segment already in Dir, or, in an
// empty Dir, at the redo point of the server's latest checkpoint, the oldest WAL a standby
// restored from a recent base backup can still need.
func (f *Feed) firstSegment(ctx context.Context) (pgformat.Segment, error) {
	entries, err := os.ReadDir(f.Dir)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", f.Dir, err)
	}
	var newest string
	for _, e := range entries {
		if _, _, ok := pgformat.ParseName(e.Name(), f.SegmentSize); ok && e.Name() > newest {
			newest = e.Name()
		}
	}
	if newest != "" {
		_, seg, _ := pgformat.ParseName(newest, f.SegmentSize)
		return seg, nil // copied again: it may have been partial
	}
	q := `SELECT redo_lsn::text FROM pg_control_checkpoint()`
	f.LogSQL(q)
	var redo string
	if err := f.Conn.QueryRow(ctx, q).Scan(&redo); err != nil {
		return 0, fmt.Errorf("reading the checkpoint's redo point: %w", err)
	}
	lsn, err := pgformat.ParseLSN(redo)
	if err != nil {
		return 0, err
	}
	return pgformat.SegmentOf(lsn, f.SegmentSize), nil
}

// pass lists pg_wal once and copies what changed. Segments past the one being written are left
// alone: they are recycled files holding old WAL under a future name.
func (f *Feed) pass(ctx context.Context, first pgformat.Segment) error {
	const q = `SELECT n, s.change FROM pg_ls_dir('pg_wal', true, false) AS n,
		LATERAL pg_stat_file('pg_wal/' || n, true) AS s
		WHERE (n ~ '^[0-9A-F]{24}$' OR n ~ '^[0-9A-F]{8}\.history$') AND s.change IS NOT NULL`
	f.LogSQL(q)
	rows, err := f.Conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("listing pg_wal: %w", err)
	}
	files, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (walFile, error) {
		var w walFile
		return w, r.Scan(&w.name, &w.ctime)
	})
	if err != nil {
		return fmt.Errorf("listing pg_wal: %w", err)
	}
	written, err := f.writtenSegment(ctx)
	if err != nil {
		return err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	for _, w := range files {
		_, seg, isSegment := pgformat.ParseName(w.name, f.SegmentSize)
		if isSegment && (seg < first || seg > written) {
			continue
		}
		partial := isSegment && seg == written
		if last, ok := f.copied[w.name]; ok && !last.stale(w.ctime, !partial) {
			continue
		}
		if err := f.copy(ctx, w, partial); err != nil {
			return err
		}
	}
	return nil
}

// writtenSegment is the segment the server is writing now.
func (f *Feed) writtenSegment(ctx context.Context) (pgformat.Segment, error) {
	q := `SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END::text`
	f.LogSQL(q)
	var txt string
	if err := f.Conn.QueryRow(ctx, q).Scan(&txt); err != nil {
		return 0, fmt.Errorf("reading the WAL position: %w", err)
	}
	lsn, err := pgformat.ParseLSN(txt)
	if err != nil {
		return 0, err
	}
	return pgformat.SegmentOf(lsn, f.SegmentSize), nil
}

// copy reads one file whole and puts it in Dir under its own name. It goes through a temporary
// name and a rename, so that restore_command never sees half a copy.
func (f *Feed) copy(ctx context.Context, w walFile, partial bool) error {
	q := `SELECT clock_timestamp(), pg_read_binary_file($1, 0, 1073741819, true)`
	f.LogSQL(q)
	var data []byte
	var at time.Time
	if err := f.Conn.QueryRow(ctx, q, "pg_wal/"+w.name).Scan(&at, &data); err != nil {
		return fmt.Errorf("reading pg_wal/%s: %w", w.name, err)
	}
	if data == nil {
		return nil // removed since the listing: nothing more to copy of it
	}
	if strings.ContainsAny(w.name, `/\`) {
		return fmt.Errorf("server listed an unsafe WAL file name %q", w.name)
	}
	tmp := filepath.Join(f.Dir, "."+w.name+".pgpull-tmp")
	if err := writeSynced(tmp, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(f.Dir, w.name)); err != nil {
		return err
	}
	f.copied[w.name] = copyState{ctime: w.ctime, at: at, partial: partial}
	f.Log("copied %s (%d bytes)", w.name, len(data))
	return nil
}

func writeSynced(path string, data []byte) error {
	file, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := file.Write(data); err != nil {
		file.Close()
		return err
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}
