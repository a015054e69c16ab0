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
// server keeps, before a checkpoint can remove one.
func (f *Feed) noteLag(written pgformat.Segment) {
	l := &f.lag
	behind := max(int64(written)-int64(f.next), 0)
	mb := behind * f.SegmentSize >> 20
	switch {
	case behind > 1 && behind != l.behind:
		f.Log("behind the server by %d finished segments (%dMB)", behind, mb)
	case behind <= 1 && l.behind > 1:
		f.Log("caught up with the server")
		l.warned = false
	}
	if l.margin > 0 && 2*behind > l.margin && !l.warned {
		f.Warn("falling behind: %d finished segments (%dMB) wait to be copied, and the server keeps %d behind a checkpoint (%s): "+
			"a checkpoint may remove one before it is copied; use --slot, raise %s, or feed from a faster link",
			behind, mb, l.margin, l.keeper, l.keeper)
		l.warned = true
	}
	l.behind = behind
}
