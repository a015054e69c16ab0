package backup

import (
	"context"
	"fmt"
	"strings"

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
	codecs, err := session.CheckHelper(ctx, b.conn)
	if err == nil {
		codecs, err = probeCodecs(codecs, b.opts.ServerCodec)
	}
	if err == nil {
		var probe session.HelperProbe
		if probe, err = session.ProbeHelper(ctx, b.conn, rule.Sample, fetch.CompressedRowSize, codecs); err == nil {
			b.opts.ServerCompress, b.ServerCodec, b.ServerCompressWhy = rule.weigh(probe, b.opts.Jobs)
		}
	}
	if err != nil {
		if ctx.Err() != nil || b.conn.IsClosed() {
			return err
		}
		b.opts.ServerCompress, b.ServerCodec, b.ServerCompressWhy = false, "", err.Error()
	}
	b.opts.Log("--server-compress=auto: %s: %s", map[bool]string{true: "on", false: "off"}[b.opts.ServerCompress], b.ServerCompressWhy)
	return nil
}

// probeCodecs is which of the helper's codecs the probe tries: the one asked for, or lz4 and zstd
// where the server has them (zlib, slow on data that does not shrink, only where it has neither).
func probeCodecs(have []string, want string) ([]string, error) {
	if want != "" {
		c, err := session.PickCodec(have, want)
		return []string{c}, err
	}
	var fast []string
	for _, c := range have {
		if c == session.CodecZstd || c == session.CodecLZ4 {
			fast = append(fast, c)
		}
	}
	if len(fast) == 0 {
		return have[:1], nil
	}
	return fast, nil
}

// weigh decides from a probe whether compressing on the server pays for jobs fetch connections,
// with which codec, and says why. Per connection, the plain read moves file data at the link's
// rate; through the helper each byte costs its share of the compressed bytes on the link plus the
// helper's time for it, the two one after the other (the rows of one read overlap them, so this
// errs towards leaving it off), and the helper's rate is shared when there are more jobs than the
// server's CPUs. The codec is the one that moves the most; Gain leaves room for what the model
// does not count: a Python start in each fetch connection's backend, the client's decompression,
// and the server's other work.
func (r ServerCompressRule) weigh(p session.HelperProbe, jobs int) (on bool, codec, why string) {
	if p.Bytes == 0 || len(p.Codecs) == 0 {
		return false, "", "the database holds no table data to sample"
	}
	link := p.LinkRate()
	share := min(1, float64(max(p.CPUs, 1))/float64(max(jobs, 1)))
	gain := func(c session.CodecProbe) float64 {
		return (1 / (c.Ratio()/link + 1/(c.HelperRate()*share))) / link
	}
	best := p.Codecs[0]
	for _, c := range p.Codecs[1:] {
		if gain(c) > gain(best) {
			best = c
		}
	}
	var sizes []string
	for _, c := range p.Codecs {
		sizes = append(sizes, fmt.Sprintf("to %.0f%% with %s at %.0f MB/s", 100*c.Ratio(), c.Codec, c.HelperRate()/1e6))
	}
	g := gain(best)
	why = fmt.Sprintf("%d kB of %s compressed %s on the server (%d CPUs for %d jobs); "+
		"the link carried %.0f MB/s per connection (round trip %.0f ms); compressing with %s, each connection would move %.2fx the file data",
		p.Bytes>>10, p.Path, strings.Join(sizes, ", "), p.CPUs, jobs, link/1e6, float64(p.RoundTrip.Microseconds())/1000, best.Codec, g)
	switch {
	case best.Ratio() > r.MaxRatio:
		return false, "", why + fmt.Sprintf(", but the data does not shrink to %.0f%%", 100*r.MaxRatio)
	case g < r.Gain:
		return false, "", why + fmt.Sprintf(", under the %.2fx it takes to pay", r.Gain)
	}
	return true, best.Codec, why
}
