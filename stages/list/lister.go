// Package list is the listing stage: it walks the data directory and every tablespace on the
// server through SQL, applies pg_basebackup's exclusion rules, and sends what the backup holds.
package list

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/pipeline"
)

// Lister walks the server's files. It leaves out global/pg_control, which the caller copies after
// everything else, and the contents of pg_wal, which the WAL scanner sends.
type Lister struct {
	Conn        *pgx.Conn // the lister's own connection
	Server      session.Server
	Tablespaces []session.Tablespace
	// CheckPages marks relation files for page checksum verification.
	CheckPages bool
}

// treeQuery lists a directory tree in one round trip. A recursive query walks breadth first, and
// each directory's entries arrive together, which lets the caller judge a database directory's
// files (unlogged relations) one directory at a time. $2 names directories not to descend into.
const treeQuery = `
WITH RECURSIVE tree(path, size, mtime, isdir) AS (
    SELECT CASE WHEN $1 = '.' THEN n ELSE $1 || '/' || n END, s.size, s.modification, s.isdir
      FROM pg_ls_dir($1, true, false) AS n,
           LATERAL pg_stat_file(CASE WHEN $1 = '.' THEN n ELSE $1 || '/' || n END, true) AS s
     WHERE n NOT LIKE 'pgsql\_tmp%'
  UNION ALL
    SELECT tree.path || '/' || n, s.size, s.modification, s.isdir
      FROM tree,
           LATERAL pg_ls_dir(tree.path, true, false) AS n,
           LATERAL pg_stat_file(tree.path || '/' || n, true) AS s
     WHERE tree.isdir AND NOT tree.path = ANY($2) AND n NOT LIKE 'pgsql\_tmp%'
)
SELECT path, size, mtime, isdir FROM tree WHERE size IS NOT NULL`

// Run sends every entry to out. It does not close out.
func (l *Lister) Run(ctx context.Context, out chan<- pipeline.Item) error {
	prune := append([]string{"pg_wal", "pg_tblspc"}, emptiedDirs...)
	if st := l.Server.StatsTempDir; st != "" && !path.IsAbs(st) && st != "pg_stat_tmp" {
		prune = append(prune, path.Clean(st))
	}
	if err := l.walk(ctx, out, ".", "", prune); err != nil {
		return err
	}
	now := time.Now()
	for _, dir := range walDirs(l.Server.Major()) {
		if err := l.send(ctx, out, &pipeline.File{Path: dir, Dir: true, ModTime: now, Segment: -1}); err != nil {
			return err
		}
	}
	return l.tablespaces(ctx, out)
}

func (l *Lister) tablespaces(ctx context.Context, out chan<- pipeline.Item) error {
	for _, t := range l.Tablespaces {
		// Reading through pg_tblspc/<oid> follows the server's own symlink, so the role needs no
		// right to read the tablespace's absolute path.
		root := "pg_tblspc/" + t.OID
		version := root + "/" + l.Server.TablespaceDir()
		oid := t.OID
		if t.InPlace() {
			oid = ""
		}
		now := time.Now()
		for _, dir := range []string{root, version} {
			if err := l.send(ctx, out, &pipeline.File{Path: dir, Dir: true, Tablespace: oid, ModTime: now, Segment: -1}); err != nil {
				return err
			}
		}
		if err := l.walk(ctx, out, version, oid, []string{}); err != nil {
			return err
		}
	}
	return nil
}

// entry is one row of the tree query.
type entry struct {
	path  string
	size  int64
	mtime time.Time
	dir   bool
}

// walk lists root and sends its entries, a directory's worth at a time.
func (l *Lister) walk(ctx context.Context, out chan<- pipeline.Item, root, tablespace string, prune []string) error {
	rows, err := l.Conn.Query(ctx, treeQuery, root, prune)
	if err != nil {
		return fmt.Errorf("listing %s: %w", root, err)
	}
	defer rows.Close()
	var group []entry
	var groupDir string
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.path, &e.size, &e.mtime, &e.dir); err != nil {
			return fmt.Errorf("listing %s: %w", root, err)
		}
		if d := path.Dir(e.path); d != groupDir {
			if err := l.sendGroup(ctx, out, groupDir, group, tablespace); err != nil {
				return err
			}
			group, groupDir = group[:0], d
		}
		group = append(group, e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("listing %s: %w", root, err)
	}
	return l.sendGroup(ctx, out, groupDir, group, tablespace)
}

// sendGroup applies the rules to the entries of one directory and sends what stays.
func (l *Lister) sendGroup(ctx context.Context, out chan<- pipeline.Item, dir string, group []entry, tablespace string) error {
	dbDir := pgformat.IsDatabaseDir(dir)
	unlogged := map[string]bool{}
	if dbDir {
		for _, e := range group {
			if r, ok := pgformat.ParseRelationFile(path.Base(e.path)); ok && r.Fork == "init" {
				unlogged[r.Node] = true
			}
		}
	}
	for _, e := range group {
		name := path.Base(e.path)
		if skipped(name) || e.path == "global/pg_control" {
			continue
		}
		if dbDir && !e.dir {
			if pgformat.IsTempRelation(name) {
				continue
			}
			// An unlogged relation is empty after recovery; only its init fork is kept.
			if r, ok := pgformat.ParseRelationFile(name); ok && r.Fork != "init" && unlogged[r.Node] {
				continue
			}
		}
		f := &pipeline.File{Path: e.path, Source: e.path, Tablespace: tablespace, ModTime: e.mtime, Dir: e.dir, Segment: -1}
		if e.dir {
			f.Source = ""
		} else {
			f.Size = e.size
			if l.CheckPages {
				f.Segment = pgformat.PageSegment(dir, name)
			}
		}
		if err := l.send(ctx, out, f); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lister) send(ctx context.Context, out chan<- pipeline.Item, f *pipeline.File) error {
	if strings.HasPrefix(f.Path, "/") {
		return fmt.Errorf("server listed an absolute path %q", f.Path)
	}
	return pipeline.Send(ctx, out, pipeline.Item{File: f})
}
