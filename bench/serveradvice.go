package main

import "fmt"

// serverCompressAdvice says whether pgpull --server-compress paid in this run: its fastest
// configuration against pgpull's fastest without any compression. It pays where the link, not
// CPU, is the limit, so the verdict belongs to the scenario (link and data set) that measured it.
// "" when the run had no pgpull --server-compress.
func serverCompressAdvice(sums []summary) string {
	with, okWith := fastestPgpull(sums, "server")
	without, okWithout := fastestPgpull(sums, "none")
	switch {
	case !okWith:
		return ""
	case !okWithout:
		return "--server-compress: not judged (add none to --compress to run pgpull without it beside it)"
	}
	ratio := without.WallSec / with.WallSec
	measured := fmt.Sprintf("`%s` %.2f s against `%s` %.2f s without it, %.2fx", with.Config, with.WallSec, without.Config, without.WallSec, ratio)
	switch {
	case ratio > 1.05:
		return "--server-compress: use it on this link and data: " + measured + "; the bytes on the wire, not CPU, set the pace here"
	case ratio < 0.95:
		return "--server-compress: leave it off on this link and data: " + measured +
			"; CPU, not the link, sets the pace here, and compressing on the server adds to it"
	}
	return "--server-compress: no faster or slower here (within 5%): " + measured + "; use it only to send fewer bytes (a metered or shared link)"
}

// fastestPgpull is pgpull's fastest successful configuration with compression comp.
func fastestPgpull(sums []summary, comp string) (summary, bool) {
	var best summary
	found := false
	for _, s := range sums {
		if s.Tool == toolPgpull && s.Compress == comp && s.Runs > 0 && (!found || s.WallSec < best.WallSec) {
			best, found = s, true
		}
	}
	return best, found
}
