package backup

import (
	"context"
	"fmt"

	"github.com/pgpull/pgpull/internal/session"
	"github.com/pgpull/pgpull/stages/fetch"
)

// ServerCompressRule is how --server-compress=auto weighs its probe: Sample bytes of the largest
// relation are read through the helper and as they are, and compression goes on when each
// connection would carry at least Gain times the file data it carries without it, and the sample
// shrank to MaxRatio or less.
type ServerCompressRule struct {
	Sample   int64
	Gain     float64
	MaxRatio float64
}

// chooseServerCompress settles --server-compress=auto on the control session: off, saying why,
// when the helper cannot be called; otherwise by the probe. Only a failed connection fails it.
func (b *Backup) chooseServerCompress(ctx context.Context) error {
	rule := b.opts.Tuning.ServerCompress
	codec, err := session.CheckHelper(ctx, b.conn)
	if err == nil {
		var probe session.HelperProbe
		if probe, err = session.ProbeHelper(ctx, b.conn, rule.Sample, fetch.CompressedRowSize); err == nil {
			b.opts.ServerCompress, b.ServerCompressWhy = rule.weigh(probe, codec, b.opts.Jobs)
		}
	}
	if err != nil {
		if ctx.Err() != nil || b.conn.IsClosed() {
			return err
		}
		b.opts.ServerCompress, b.ServerCompressWhy = false, err.Error()
	}
	if b.opts.ServerCompress {
		b.ServerCodec = codec
	}
	b.opts.Log("--server-compress=auto: %s: %s", map[bool]string{true: "on", false: "off"}[b.opts.ServerCompress], b.ServerCompressWhy)
	return nil
}

// weigh decides from a probe whether compressing on the server pays for jobs fetch connections,
// and says why. Per connection, the plain read moves file data at the link's rate; through the
// helper each byte costs its share of the compressed bytes on the link plus the helper's time for
// it, the two one after the other (the rows of one read overlap them, so this errs towards leaving
// it off), and the helper's rate is shared when there are more jobs than the server's CPUs. Gain
// leaves room for what the model does not count: a Python start in each fetch connection's
// backend, the client's decompression, and the server's other work.
func (r ServerCompressRule) weigh(p session.HelperProbe, codec string, jobs int) (bool, string) {
	if p.Bytes == 0 {
		return false, "the database holds no table data to sample"
	}
	link, helper, ratio := p.LinkRate(), p.HelperRate(), p.Ratio()
	perJob := helper * min(1, float64(max(p.CPUs, 1))/float64(max(jobs, 1)))
	gain := (1 / (ratio/link + 1/perJob)) / link
	why := fmt.Sprintf("%d kB of %s compressed to %.0f%% with %s at %.0f MB/s on the server (%d CPUs for %d jobs); "+
		"the link carried %.0f MB/s per connection (round trip %.0f ms); compressing, each connection would move %.2fx the file data",
		p.Bytes>>10, p.Path, 100*ratio, codec, helper/1e6, p.CPUs, jobs, link/1e6, float64(p.RoundTrip.Microseconds())/1000, gain)
	switch {
	case ratio > r.MaxRatio:
		return false, why + fmt.Sprintf(", but the data does not shrink to %.0f%%", 100*r.MaxRatio)
	case gain < r.Gain:
		return false, why + fmt.Sprintf(", under the %.2fx it takes to pay", r.Gain)
	}
	return true, why
}
