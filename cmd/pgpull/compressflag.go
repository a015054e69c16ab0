package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/session"
)

// compressForms is what -Z takes, for its errors.
const compressForms = "[client-|server-]METHOD[:LEVEL] with METHOD none, gzip or zstd (server-lz4 too), or a gzip LEVEL 0-9"

// compressChoice is what -z and -Z ask for, read as pg_basebackup reads them.
type compressChoice struct {
	given  string        // -Z as given, for messages
	spec   compress.Spec // what pgpull compresses tar output with
	server bool          // server-METHOD: read through --server-compress's helper as well
	method string        // METHOD without its prefix
	level  bool          // a level was given
}

// parseCompress reads -Z/--compress as pg_basebackup does: a bare number is a gzip level (0 for
// none); otherwise METHOD[:DETAIL] with an optional client- or server- prefix, DETAIL a level, N or
// level=N, and workers=N, which pgpull takes and ignores: it compresses on every core.
func parseCompress(v string) (compressChoice, error) {
	c := compressChoice{given: v, method: "none"}
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		if n == 0 {
			return c, nil
		}
		c.method, c.level = "gzip", true
		spec, err := compress.ParseSpec("gzip:" + v)
		if err != nil {
			return c, fmt.Errorf("-Z %s: a bare number is a gzip level, 0 to 9", v)
		}
		c.spec = spec
		return c, nil
	}
	method, detail, _ := strings.Cut(v, ":")
	method = strings.ToLower(method)
	if m, ok := strings.CutPrefix(method, "server-"); ok {
		c.server, method = true, m
	} else if m, ok := strings.CutPrefix(method, "client-"); ok {
		method = m
	}
	c.method = method
	level, err := compressLevel(detail)
	if err != nil {
		return c, fmt.Errorf("-Z %s: %w", c.given, err)
	}
	c.level = level != ""
	switch {
	case method == "lz4" && c.server:
		return c, nil // the wire only: tar output in lz4 is refused once the format is known
	case method == "lz4":
		return c, fmt.Errorf("-Z %s: pgpull compresses tar output with gzip or zstd; -Z zstd:1 is about as quick, on every core", c.given)
	case method != "none" && method != "gzip" && method != "zstd":
		return c, fmt.Errorf("invalid -Z/--compress %q: use %s", c.given, compressForms)
	}
	spec := method
	if level != "" {
		spec += ":" + level
	}
	if c.spec, err = compress.ParseSpec(spec); err != nil {
		return c, fmt.Errorf("-Z %s: %w", c.given, err)
	}
	return c, nil
}

// compressLevel reads pg_basebackup's compression DETAIL: "", N, or a comma list of level=N and
// workers=N. It returns the level, "" when none is given.
func compressLevel(detail string) (string, error) {
	if detail == "" {
		return "", nil
	}
	level := ""
	for _, item := range strings.Split(detail, ",") {
		key, val, hasVal := strings.Cut(strings.TrimSpace(item), "=")
		switch {
		case !hasVal && isNumber(key):
			level = key
		case key == "level" && isNumber(val):
			level = val
		case key == "workers" && isNumber(val):
			// pgpull compresses on every core whatever the count.
		case key == "long":
			return "", fmt.Errorf("zstd's long mode is not offered: pgpull compresses independent blocks on every core")
		default:
			return "", fmt.Errorf("unknown compression detail %q: give a level, N or level=N", item)
		}
	}
	return level, nil
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// serverCodec is the helper's codec that -Z server-METHOD names: gzip is zlib's stream on the
// wire; "" without server-.
func (c compressChoice) serverCodec() string {
	if !c.server {
		return ""
	}
	return map[string]string{"zstd": session.CodecZstd, "lz4": session.CodecLZ4, "gzip": session.CodecZlib}[c.method]
}

// honoured says whether the server compresses as -Z server-METHOD[:LEVEL] asked, once its helper's
// codec is known and out is what the output is compressed with: "" when it does, else one line
// saying what happens instead. The helper compresses zstd and zlib at level 1 and lz4 at its only
// level.
func (c compressChoice) honoured(codec string, out compress.Spec) string {
	if !c.server || !c.level || c.method != "lz4" && c.spec.Level == 1 {
		return ""
	}
	output := "the plain copy is written uncompressed"
	if out.Algorithm != compress.None {
		output = "the tar output is compressed here with " + out.String()
	}
	return fmt.Sprintf("-Z %s: the server's helper compresses what it sends with %s at its own level, which pgpull cannot set; %s",
		c.given, codec, output)
}

// gzipValue is -z/--gzip: a switch that sets -Z's value to gzip, as pg_basebackup -z does; the
// later of the two wins.
type gzipValue struct{ compress *string }

func (g gzipValue) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	if on {
		*g.compress = "gzip"
	}
	return nil
}

func (g gzipValue) String() string { return "false" }
func (g gzipValue) Type() string   { return "bool" }

// serverCompressValue is --server-compress: a switch, as it always was, =auto, which leaves the
// choice to a probe of the link and of the data when the backup connects, or the codec to use.
type serverCompressValue struct {
	on, auto bool
	codec    string // "" for pgpull's choice
}

func (v *serverCompressValue) Set(s string) error {
	switch c := strings.ToLower(s); c {
	case "auto":
		*v = serverCompressValue{auto: true}
		return nil
	case session.CodecZstd, session.CodecLZ4, session.CodecZlib:
		*v = serverCompressValue{on: true, codec: c}
		return nil
	}
	on, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("use --server-compress, --server-compress=auto, --server-compress=CODEC (zstd, lz4 or zlib) or --server-compress=false")
	}
	*v = serverCompressValue{on: on}
	return nil
}

func (v *serverCompressValue) String() string {
	switch {
	case v.auto:
		return "auto"
	case v.codec != "":
		return v.codec
	case v.on:
		return "true"
	}
	return "false"
}

// Type is bool's, so that the flag alone still means on and the help shows no value for it.
func (v *serverCompressValue) Type() string { return "bool" }
