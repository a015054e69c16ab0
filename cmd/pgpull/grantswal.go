package main

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgpull/pgpull/internal/session"
)

// walFeedGrants is what pgpull grants adds for pgpull wal, as SQL comments: the ways to make the
// server keep each finished WAL segment until the feed has copied it, best first, and which of
// them role can use on this server (keep is its retention settings, replication whether role
// has REPLICATION now).
func walFeedGrants(keep session.FeedKeep, role string, replication bool) string {
	r := pgx.Identifier{role}.Sanitize()
	need := keep.NeededKeep(defaultWALInterval)
	var b strings.Builder
	b.WriteString("-- pgpull wal: the server must keep each finished WAL segment until the feed has copied it. Best first:\n")
	if replication {
		fmt.Fprintf(&b, "--   1. pgpull wal --slot NAME: a replication slot holds the WAL; %s has REPLICATION and may use one.\n", r)
	} else {
		fmt.Fprintf(&b, "--   1. pgpull wal --slot NAME: a replication slot holds the WAL; %s may use one once the\n", r)
		b.WriteString("--      ALTER ROLE ... REPLICATION line above is run.\n")
	}
	switch {
	case keep.Safe(defaultWALInterval):
		fmt.Fprintf(&b, "--   2. Without a slot: wal_keep_size (%dMB) already covers the %dMB a feed looking every %s needs.\n",
			keep.WALKeepSize>>20, need>>20, defaultWALInterval)
	default:
		fmt.Fprintf(&b, "--   2. Without a slot: wal_keep_size is %dMB, and a feed looking every %s needs %dMB; a superuser\n",
			keep.WALKeepSize>>20, defaultWALInterval, need>>20)
		fmt.Fprintf(&b, "--      (not %s) runs: ALTER SYSTEM SET wal_keep_size = '%dMB'; SELECT pg_reload_conf();\n", r, need>>20)
	}
	b.WriteString("--      pgpull wal measures the server's WAL rate when it starts, and asks for more on a busy server.\n")
	b.WriteString("--   Else pgpull wal refuses to start, unless --accept-gaps makes it a best-effort feed.\n")
	return b.String()
}
