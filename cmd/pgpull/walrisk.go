package main

import (
	"fmt"
	"time"

	"github.com/pgpull/pgpull/backup"
	"github.com/pgpull/pgpull/internal/session"
)

// walRiskWarning is the line printed before the copy when the WAL the backup needs may be removed
// before it is copied, or "" when the numbers show no risk.
func walRiskWarning(noSlot string, r session.WALRisk, rateFlagSet bool) string {
	if !r.AtRisk() {
		return ""
	}
	assumed := " (-r)"
	if !rateFlagSet {
		assumed = fmt.Sprintf(" (assumed without -r; %s/s)", humanSize(int64(backup.AssumedCopyRate)))
	}
	need := 2 * r.WALDuringCopy()
	return fmt.Sprintf("warning: no slot will hold WAL (%s): the server writes %s/s of WAL, the copy of %s takes about %s at %s/s%s, "+
		"so about %s of WAL is written meanwhile; the server keeps %s beyond each checkpoint (wal_keep_size) and checkpoints every %s "+
		"(checkpoint_timeout) or every %s of WAL (max_wal_size %s): WAL the backup needs may be removed before it is copied, "+
		"and the backup then fails. Give the role REPLICATION so a temporary slot holds it, or set wal_keep_size to at least %s "+
		"(ALTER SYSTEM SET wal_keep_size = '%dMB'; SELECT pg_reload_conf())",
		noSlot, humanSize(int64(r.WALRate)), humanSize(r.CopyBytes), r.CopyTime.Round(time.Second), humanSize(int64(r.CopyRate)), assumed,
		humanSize(r.WALDuringCopy()), humanSize(r.WALKeepSize), r.CheckpointTimeout, humanSize(r.CheckpointDistance()),
		humanSize(r.MaxWALSize), humanSize(need), need>>20+1)
}
