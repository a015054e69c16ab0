package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Tools the matrix can hold.
const (
	toolPgpull = "pgpull"
	// toolPgpullLibzstd is pgpull built with -tags libzstd (zstd from the C library through
	// cgo). Only its zstd encoder differs from the default build's, so it runs the client zstd
	// compressions only, with the same -j and --range-size values as pgpull.
	toolPgpullLibzstd = "pgpull-libzstd"
	toolBasebackup    = "pg_basebackup"
	toolPgbackrest    = "pgbackrest"
	toolTar           = "tar"
)

// compression is one --compress value: none, gzip:LEVEL or zstd:LEVEL, done by the client; or
// done by the server: "server" is pgpull --server-compress (pgpull picks the codec; the output is
// uncompressed), "server=CODEC" the same with --server-compress=CODEC, "server-auto" pgpull
// --server-compress=auto (its probe decides whether and with which codec), server-gzip:LEVEL,
// server-lz4:LEVEL and server-zstd:LEVEL are pg_basebackup's.
//
// zstd:LEVEL:workers=N is pg_basebackup's client-zstd with N compression threads (accepted by
// pg_basebackup 15 and later); pgpull always compresses on every core, so it has no such row.
type compression struct {
	server  bool
	auto    bool   // pgpull's server compression left to its probe
	codec   string // the codec pgpull's server compression is told to use; "" for its choice
	algo    string // "none", "gzip", "zstd" or "lz4"; "" for pgpull's server compression
	level   int
	workers int // pg_basebackup's zstd workers; 0 for none
}

func parseCompression(s string) (compression, error) {
	s = strings.TrimSpace(s)
	if s == "server" || s == "server-auto" {
		return compression{server: true, auto: s == "server-auto"}, nil
	}
	if codec, ok := strings.CutPrefix(s, "server="); ok {
		if codec != "zstd" && codec != "lz4" && codec != "zlib" {
			return compression{}, fmt.Errorf("compression %q: use server=zstd, server=lz4 or server=zlib", s)
		}
		return compression{server: true, codec: codec}, nil
	}
	if rest, ok := strings.CutPrefix(s, "server-"); ok {
		algo, lvl, hasLevel := strings.Cut(rest, ":")
		level, err := strconv.Atoi(lvl)
		if !hasLevel {
			level, err = 1, nil
		}
		if (algo != "gzip" && algo != "lz4" && algo != "zstd") || err != nil || level < 1 || level > 19 {
			return compression{}, fmt.Errorf("compression %q: use server, server-auto, server-gzip:N, server-lz4:N or server-zstd:N", s)
		}
		return compression{server: true, algo: algo, level: level}, nil
	}
	if base, w, ok := strings.Cut(s, ":workers="); ok && strings.HasPrefix(base, "zstd:") {
		c, err := parseCompression(base)
		n, nerr := strconv.Atoi(w)
		if err != nil || nerr != nil || n < 1 {
			return compression{}, fmt.Errorf("compression %q: use zstd:LEVEL:workers=N", s)
		}
		c.workers = n
		return c, nil
	}
	algo, lvl, hasLevel := strings.Cut(s, ":")
	switch algo {
	case "none":
		if hasLevel {
			return compression{}, fmt.Errorf("compression %q: none takes no level", s)
		}
		return compression{algo: "none"}, nil
	case "gzip", "zstd":
		level := 1
		if hasLevel {
			n, err := strconv.Atoi(lvl)
			if err != nil || n < 1 || n > 19 || (algo == "gzip" && n > 9) {
				return compression{}, fmt.Errorf("compression %q: bad level", s)
			}
			level = n
		}
		return compression{algo: algo, level: level}, nil
	}
	return compression{}, fmt.Errorf("compression %q: use none, gzip:N, zstd:N, server or server-ALGO:N", s)
}

func (c compression) String() string {
	switch {
	case c.auto:
		return "server-auto"
	case c.server && c.codec != "":
		return "server=" + c.codec
	case c.server && c.algo == "":
		return "server"
	case c.server:
		return fmt.Sprintf("server-%s:%d", c.algo, c.level)
	case c.algo == "none":
		return "none"
	case c.workers > 0:
		return fmt.Sprintf("%s:%d:workers=%d", c.algo, c.level, c.workers)
	}
	return fmt.Sprintf("%s:%d", c.algo, c.level)
}

// forPgpull and forBasebackup say which tool runs a compression: pgpull's server compression is
// its helper, pg_basebackup's its server-side methods.
func (c compression) forPgpull() bool     { return (!c.server || c.algo == "") && c.workers == 0 }
func (c compression) forBasebackup() bool { return c.algo != "" }

// pgpullArgs are pgpull's flags for the compression.
func (c compression) pgpullArgs() []string {
	switch {
	case c.auto:
		return []string{"--server-compress=auto", "-Z", "none"}
	case c.server && c.codec != "":
		return []string{"--server-compress=" + c.codec, "-Z", "none"}
	case c.server:
		return []string{"--server-compress", "-Z", "none"}
	}
	return []string{"-Z", c.String()}
}

// basebackupArgs are pg_basebackup's flags for the same compression: on the client as pgpull
// does it, or on the server. A server-compressed tar stream cannot carry the manifest that
// pg_basebackup would inject, so it goes without one.
func (c compression) basebackupArgs() []string {
	switch {
	case c.server:
		return []string{"--compress=" + c.String(), "--no-manifest"}
	case c.algo == "none":
		return nil
	case c.workers > 0:
		return []string{fmt.Sprintf("--compress=client-%s:level=%d,workers=%d", c.algo, c.level, c.workers)}
	}
	return []string{"--compress=client-" + c.String()}
}

// pgbackrestArgs are pgBackRest's flags for the same compression.
func (c compression) pgbackrestArgs() []string {
	switch c.algo {
	case "gzip":
		return []string{"--compress-type=gz", "--compress-level=" + strconv.Itoa(c.level)}
	case "zstd":
		return []string{"--compress-type=zst", "--compress-level=" + strconv.Itoa(c.level)}
	}
	return []string{"--compress-type=none"}
}

// config is one cell of the matrix: a tool and its settings.
type config struct {
	tool      string
	jobs      int    // pgpull -j (0 for -j auto), pgBackRest process-max; 1 for the others
	rangeSize string // pgpull --range-size
	comp      compression
	// noWALCheck runs pgpull with --no-check-wal, to measure what the WAL check costs.
	noWALCheck bool
}

// pgpullArgs are the config's pgpull flags beyond -j, -c and --range-size.
func (c config) pgpullArgs() []string {
	if c.noWALCheck {
		return append(c.comp.pgpullArgs(), "--no-check-wal")
	}
	return c.comp.pgpullArgs()
}

// name is the config's label in tables and files.
func (c config) name() string {
	switch c.tool {
	case toolPgpull, toolPgpullLibzstd:
		if c.noWALCheck {
			return fmt.Sprintf("%s -j%d r=%s %s no-walcheck", c.tool, c.jobs, c.rangeSize, c.comp)
		}
		return fmt.Sprintf("%s -j%s r=%s %s", c.tool, jobsArg(c.jobs), c.rangeSize, c.comp)
	case toolPgbackrest:
		return fmt.Sprintf("pgbackrest p=%d %s", c.jobs, c.comp)
	case toolTar:
		return "tar -c (ceiling)"
	}
	return fmt.Sprintf("%s %s", c.tool, c.comp)
}

// matrixSpec says which configs to run.
type matrixSpec struct {
	pgpull         bool // the default build
	pgpullLibzstd  bool // the -tags libzstd build, for the zstd compressions
	jobs           []int
	rangeSizes     []string
	walChecks      []bool // pgpull with the WAL check (true), without (false), or both
	comps          []compression
	basebackup     bool
	pgbackrest     bool
	pgbackrestJobs []int
	tar            bool
}

// configs lists the cells grouped by compression: pgpull's grid, then the
// peers with the same compression, then the tar ceiling once.
func (m matrixSpec) configs() []config {
	var out []config
	for _, comp := range m.comps {
		for _, j := range m.jobs {
			for _, r := range m.rangeSizes {
				for _, w := range m.walChecks {
					if m.pgpull && comp.forPgpull() {
						out = append(out, config{tool: toolPgpull, jobs: j, rangeSize: r, comp: comp, noWALCheck: !w})
					}
					if m.pgpullLibzstd && !comp.server && comp.algo == "zstd" && comp.workers == 0 {
						out = append(out, config{tool: toolPgpullLibzstd, jobs: j, rangeSize: r, comp: comp, noWALCheck: !w})
					}
				}
			}
		}
		if m.basebackup && comp.forBasebackup() {
			out = append(out, config{tool: toolBasebackup, jobs: 1, comp: comp})
		}
		if m.pgbackrest && !comp.server && comp.workers == 0 {
			for _, j := range m.pgbackrestJobs {
				if j == jobsAuto || j == jobsDefault {
					continue // pgBackRest has neither
				}
				out = append(out, config{tool: toolPgbackrest, jobs: j, comp: comp})
			}
		}
	}
	if m.tar {
		out = append(out, config{tool: toolTar, jobs: 1, comp: compression{algo: "none"}})
	}
	return out
}

// trial is one scheduled run: which config and which repetition.
type trial struct {
	config int // index into the config list
	run    int // 1-based repetition
}

// interleave orders runs of n configs round-robin (A B C A B C ...), so slow
// drift on a shared machine (other tenants, page cache, thermal) spreads
// over every config instead of landing on whichever ran last.
func interleave(n, runs int) []trial {
	out := make([]trial, 0, n*runs)
	for r := 1; r <= runs; r++ {
		for c := range n {
			out = append(out, trial{config: c, run: r})
		}
	}
	return out
}

// Jobs values that are not a count: -j auto, and no -j at all (pgpull's default, which depends
// on where the server is).
const (
	jobsAuto    = 0
	jobsDefault = -1
)

// jobsArg is pgpull's -j value for a config's jobs.
func jobsArg(jobs int) string {
	switch jobs {
	case jobsAuto:
		return "auto"
	case jobsDefault:
		return "default"
	}
	return strconv.Itoa(jobs)
}

// jobsFlag is pgpull's -j flag for a config's jobs: none for the default.
func jobsFlag(jobs int) []string {
	if jobs == jobsDefault {
		return nil
	}
	return []string{"-j", jobsArg(jobs)}
}

// parseJobsList reads "1,2,4,auto,default".
func parseJobsList(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		switch f {
		case "auto":
			out = append(out, jobsAuto)
			continue
		case "default":
			out = append(out, jobsDefault)
			continue
		}
		n, err := parseIntList(f)
		if err != nil {
			return nil, fmt.Errorf("%q: want positive integers or auto separated by commas", s)
		}
		out = append(out, n...)
	}
	return out, nil
}

// parseIntList reads "1,2,4,8".
func parseIntList(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// serverCompress reports whether pgpull runs with --server-compress, which needs its helper.
func (m matrixSpec) serverCompress() bool {
	for _, c := range m.comps {
		if c.server && c.forPgpull() && m.pgpull && len(m.jobs) > 0 {
			return true
		}
	}
	return false
}
