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
