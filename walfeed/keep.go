package walfeed

import (
	"context"
	"fmt"
	"time"

	"github.com/pgpull/pgpull/internal/session"
)

// rateSample is how long the feed watches the server's WAL position at start, to weigh what it
// writes between two looks.
const rateSample = time.Second

// holdWAL makes sure the server keeps each finished segment until the feed copies it: with Slot,
// by finding or creating the slot; without, by checking that the server keeps enough WAL
// (session.FeedKeep), refusing to start when it does not, unless AcceptGaps.
func (f *Feed) holdWAL(ctx context.Context) error {
	if f.Slot != "" {
		return f.holdWithSlot(ctx)
	}
	keep, err := session.ReadFeedKeep(ctx, f.Conn)
	if err != nil {
		return err
	}
	if keep.Rate, err = f.measureRate(ctx); err != nil {
		return err
	}
	f.keep = keep
	f.lag.margin, f.lag.keeper = keep.KeptSegments(), "wal_keep_size"
	need := keep.NeededKeep(f.Interval)
	switch {
	case keep.KeepsEverything():
		f.Log("archive_mode is %s with nothing set to archive: the server keeps every segment", keep.Archiving)
	case keep.Safe(f.Interval):
		f.Log("wal_keep_size %dMB covers the %dMB a feed looking every %s needs", keep.WALKeepSize>>20, need>>20, f.Interval)
	case f.AcceptGaps:
		f.Warn("best-effort feed (--accept-gaps): wal_keep_size %dMB is less than the %dMB it needs, so the server may remove "+
			"a finished segment before it is copied; each one lost is reported and skipped", keep.WALKeepSize>>20, need>>20)
	default:
		return f.refusal(ctx, need)
	}
	return nil
}

// holdWithSlot finds or creates the slot, and notes how far the feed may fall behind.
func (f *Feed) holdWithSlot(ctx context.Context) error {
	var err error
	if f.slot, err = holdSlot(ctx, f.Conn, f.Slot); err != nil {
		return err
	}
	var mb int64
	q := `SELECT setting::int8 FROM pg_settings WHERE name = 'max_slot_wal_keep_size'`
	if err := f.Conn.QueryRow(ctx, q).Scan(&mb); err != nil {
		return fmt.Errorf("reading max_slot_wal_keep_size: %w", err)
	}
	f.lag.margin, f.lag.keeper = -1, "max_slot_wal_keep_size"
	if mb >= 0 {
		f.lag.margin = mb << 20 / f.SegmentSize
	}
	return nil
}

// measureRate is the bytes of WAL per second the server writes over rateSample.
func (f *Feed) measureRate(ctx context.Context) (float64, error) {
	first, err := session.WrittenLSN(ctx, f.Conn)
	if err != nil {
		return 0, err
	}
	began := time.Now()
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(rateSample):
	}
	second, err := session.WrittenLSN(ctx, f.Conn)
	if err != nil {
		return 0, err
	}
	return float64(max(second, first)-first) / time.Since(began).Seconds(), nil
}

// refusal is the one line that stops a feed the server may outrun, with the fixes, best first.
func (f *Feed) refusal(ctx context.Context, need int64) error {
	role, may, err := roleReplication(ctx, f.Conn)
	if err != nil {
		return err
	}
	slot := fmt.Sprintf("--slot NAME, which needs REPLICATION (%s lacks it: a superuser runs ALTER ROLE %s REPLICATION, "+
		"the optional line of pgpull grants)", role, role)
	if may {
		slot = fmt.Sprintf("--slot NAME (%s may use one)", role)
	}
	interval := ""
	if d := f.keep.SafeInterval(); d > 0 && d < f.Interval {
		interval = fmt.Sprintf("; %s %s", f.IntervalFlag, d)
	}
	k := f.keep
	return fmt.Errorf("without a slot the server may remove a finished WAL segment before pgpull wal copies it: "+
		"a checkpoint removes what lies more than wal_keep_size (%dMB) behind, a fast one (as pgpull backup -c fast makes) "+
		"at any moment, and a feed looking every %s needs %dMB kept (max_wal_size %dMB; the server wrote %.1fMB/s at start); "+
		"fixes, best first: %s; ALTER SYSTEM SET wal_keep_size = '%dMB'; SELECT pg_reload_conf()%s; "+
		"or --accept-gaps for a best-effort feed that reports and skips lost segments",
		k.WALKeepSize>>20, f.Interval, need>>20, k.MaxWALSize>>20, k.Rate/(1<<20), slot, need>>20, interval)
}
