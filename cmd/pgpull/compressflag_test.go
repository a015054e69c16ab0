package main

import (
	"strings"
	"testing"
)

// TestParseCompress reads -Z as pg_basebackup reads it.
func TestParseCompress(t *testing.T) {
	tests := []struct {
		in     string
		spec   string // what tar output is compressed with
		server bool
		err    string
	}{
		{"none", "none", false, ""},
		{"0", "none", false, ""},
		{"5", "gzip:5", false, ""},
		{"gzip", "gzip:6", false, ""},
		{"zstd", "zstd:3", false, ""},
		{"ZSTD:7", "zstd:7", false, ""},
		{"gzip:level=1", "gzip:1", false, ""},
		{"client-gzip:level=1,workers=2", "gzip:1", false, ""},
		{"client-zstd:workers=4", "zstd:3", false, ""},
		{"server-zstd:1", "zstd:1", true, ""},
		{"server-gzip", "gzip:6", true, ""},
		{"server-lz4", "none", true, ""},
		{"lz4", "", false, "gzip or zstd"},
		{"zstd:long", "", false, "long mode is not offered"},
		{"zstd:30", "", false, "-Z zstd:30"},
		{"10", "", false, "a bare number is a gzip level"},
		{"bzip2", "", false, "[client-|server-]METHOD[:LEVEL]"},
		{"gzip:fast", "", false, "unknown compression detail"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := parseCompress(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil || c.spec.String() != tt.spec || c.server != tt.server {
				t.Errorf("= %s, server %v, %v; want %s, server %v", c.spec, c.server, err, tt.spec, tt.server)
			}
		})
	}
}

// TestServerCompressFlag: --server-compress alone is on, as it always was; =auto leaves it to
// the probe; =CODEC names the codec; anything else is refused with the forms it takes.
func TestServerCompressFlag(t *testing.T) {
	tests := []struct {
		args     []string
		on, auto bool
		codec    string
		err      string
	}{
		{nil, false, false, "", ""},
		{[]string{"--server-compress"}, true, false, "", ""},
		{[]string{"--server-compress=auto"}, false, true, "", ""},
		{[]string{"--server-compress=AUTO"}, false, true, "", ""},
		{[]string{"--server-compress=false"}, false, false, "", ""},
		{[]string{"--server-compress=auto", "--server-compress"}, true, false, "", ""},
		{[]string{"--server-compress=lz4"}, true, false, "lz4", ""},
		{[]string{"--server-compress=ZSTD"}, true, false, "zstd", ""},
		{[]string{"--server-compress=zstd", "--server-compress=auto"}, false, true, "", ""},
		{[]string{"--server-compress=sometimes"}, false, false, "", "--server-compress=CODEC (zstd, lz4 or zlib)"},
	}
	for _, tt := range tests {
		var v serverCompressValue
		fs := newFlags("test")
		fs.VarPF(&v, "server-compress", "", "").NoOptDefVal = "true"
		err := fs.Parse(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v; want an error naming %s", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || v.on != tt.on || v.auto != tt.auto || v.codec != tt.codec {
			t.Errorf("%q: on %v auto %v codec %q (%v); want on %v auto %v codec %q", tt.args, v.on, v.auto, v.codec, err, tt.on, tt.auto, tt.codec)
		}
	}
}

// TestServerCodecOfCompress: -Z server-METHOD names the helper's codec (gzip is zlib's stream),
// and a level other than the helper's own is reported, not silently dropped.
func TestServerCodecOfCompress(t *testing.T) {
	tests := []struct {
		in, codec string
		note      bool
	}{
		{"server-zstd", "zstd", false},
		{"server-zstd:1", "zstd", false},
		{"server-zstd:9", "zstd", true},
		{"server-gzip:1", "zlib", false},
		{"server-gzip", "zlib", false},
		{"server-lz4", "lz4", false},
		{"server-lz4:1", "lz4", true},
		{"zstd:9", "", false},
	}
	for _, tt := range tests {
		c, err := parseCompress(tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		note := c.honoured(c.serverCodec(), c.spec)
		if c.serverCodec() != tt.codec || (note != "") != tt.note {
			t.Errorf("-Z %s: codec %q, note %q; want codec %q, a note %v", tt.in, c.serverCodec(), note, tt.codec, tt.note)
		}
	}
}
