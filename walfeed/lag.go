package walfeed

import (
	"github.com/pgpull/pgpull/internal/pgformat"
)

// lag is how far behind the server the feed was at its last look, and what it said of it.
type lag struct {
	// margin is how many finished segments may wait to be copied before a checkpoint can remove
	// one: -1 when the server keeps them all (a slot without max_slot_wal_keep_size), 0 when it
	// keeps none (wal_keep_size 0, with --accept-gaps).
	margin int64
	keeper string // the setting that sets margin, for messages
	behind int64  // finished segments waiting at the last look
	warned bool   // since the feed last caught up
}

// noteLag notes how many finished segments wait to be copied at the start of a pass, and says
// so: in the progress when more than one, and as a warning once they fill half of what the
// server keeps, before a checkpoint can remove one (once one is gone, skipGap speaks instead).
func (f *Feed) noteLag(written pgformat.Segment, l listing) {
	_, present := l.segments[f.next]
	behind := max(int64(written)-int64(f.next), 0)
	mb := behind * f.SegmentSize >> 20
	g := &f.lag
	switch {
	case behind > 1 && behind != g.behind:
		f.Log("behind the server by %d finished segments (%dMB)", behind, mb)
	case behind <= 1 && g.behind > 1:
		f.Log("caught up with the server")
		g.warned = false
	}
	if g.margin > 0 && 2*behind > g.margin && present && !g.warned {
		f.Warn("falling behind: %d finished segments (%dMB) wait to be copied, and the server keeps %d behind a checkpoint (%s): "+
			"a checkpoint may remove one before it is copied; use --slot, raise %s, or feed from a faster link",
			behind, mb, g.margin, g.keeper, g.keeper)
		g.warned = true
	}
	g.behind = behind
}
