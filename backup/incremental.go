package backup

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/pgformat"
	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/stages/changes"
)

// Incremental asks for an incremental backup: of each relation file only the blocks changed
// since Prior started, in PostgreSQL 17's INCREMENTAL files, and backup_label's INCREMENTAL FROM
// lines naming Prior's start.
type Incremental struct {
	Prior changes.Prior
	// SystemID is the prior backup's system identifier, from its manifest (version 2) or its
	// pg_control: a prior of another cluster is refused before anything starts.
	SystemID uint64
}

// Pass-1 batches: a gigabyte of files or a thousand files per question keeps the questions few
// while the fetch workers copy the batch before (chosen, not measured).
const (
	changesBatchBytes = 1 << 30
	changesBatchFiles = 1000
)

// changesPrior is the backup pass 1 finds changes since: the prior of an incremental backup, or
// the copy a refresh updates when its start can be trusted; nil for neither.
func (o Options) changesPrior() *Incremental {
	if o.Incremental != nil {
		return o.Incremental
	}
	return o.RefreshFrom
}

// checkPrior refuses, at Connect, a prior backup of another cluster.
func (b *Backup) checkPrior() error {
	inc := b.opts.changesPrior()
	if inc == nil {
		return nil
	}
	if inc.SystemID != b.Server.SystemID {
		return fmt.Errorf("--incremental-from: the prior backup is of system %d and the server is system %d: "+
			"an incremental backup must follow a backup of the same cluster; take a full backup", inc.SystemID, b.Server.SystemID)
	}
	return nil
}

// changesStage opens pass 1's session once the backup has started, checks that the prior backup
// is of this server's past, and chooses the way changed blocks are found: the WAL summaries on 17
// and later, falling back to page LSNs, which every major has.
func (r *run) changesStage(ctx context.Context) (*changes.Stage, error) {
	b, inc := r.b, r.b.opts.changesPrior()
	var err error
	if r.changesConn, err = session.ConnectUnprepared(ctx, b.cfg, "pgpull changes"); err != nil {
		return nil, err
	}
	conn := r.changesConn
	if err := changes.CheckOnHistory(ctx, conn, inc.Prior, r.start.Timeline, r.start.LSN); err != nil {
		return nil, fmt.Errorf("--incremental-from: %w; take a full backup", err)
	}
	layout, err := changes.ReadLayout(ctx, conn)
	if err != nil {
		return nil, err
	}
	method, err := r.changesMethod(ctx, conn, layout)
	if err != nil {
		return nil, err
	}
	what := "incremental"
	if b.opts.Refresh {
		what = "refresh"
	}
	b.opts.Log("%s from %s on timeline %d: changed blocks from %s", what, inc.Prior.StartLSN, inc.Prior.Timeline, method.Name())
	return &changes.Stage{Method: method, BatchBytes: changesBatchBytes, BatchFiles: changesBatchFiles, Refresh: b.opts.Refresh,
		Log: b.opts.Log, Tally: &r.tally.changes}, nil
}

func (r *run) changesMethod(ctx context.Context, conn *pgx.Conn, layout changes.Layout) (changes.Method, error) {
	b, inc := r.b, r.b.opts.changesPrior()
	helper, why, err := changes.CheckHelper(ctx, conn)
	if err != nil {
		return nil, err
	}
	if !helper {
		b.opts.Log("incremental: %s", why)
	}
	pages := &changes.PageLSN{Conn: conn, Prior: inc.Prior, Layout: layout, Helper: helper}
	if b.Server.Major() < 17 {
		return pages, nil
	}
	summaries := &changes.Summaries{Conn: conn, Prior: inc.Prior, Layout: layout, StartLSN: r.start.LSN, Timeline: r.start.Timeline}
	r.fallback = &changes.Fallback{First: summaries, Then: pages, Log: b.opts.Log}
	return r.fallback, nil
}

// incrementalLabel adds the INCREMENTAL FROM lines to backup_label, as the server writes them
// for pg_basebackup --incremental; pg_backup_stop's label lacks them.
func (b *Backup) incrementalLabel(label string) (string, error) {
	inc := b.opts.Incremental
	if inc == nil {
		return label, nil
	}
	l, err := pgformat.WithIncrementalFrom([]byte(label), inc.Prior.StartLSN, inc.Prior.Timeline)
	return string(l), err
}

// changesMethodRan names the way changed blocks were found, once pass 1 is through.
func (r *run) changesMethodRan() string {
	switch {
	case r.changes == nil:
		return ""
	case r.fallback != nil && r.fallback.Ran != nil:
		return r.fallback.Ran.Name()
	case r.fallback != nil:
		return r.fallback.First.Name()
	}
	return r.changes.Method.Name()
}
