package sinks

import (
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/session"
)

// TestParseDestination holds the rules that settle a DEST's format before any server is
// touched: each refused combination names what to do instead.
func TestParseDestination(t *testing.T) {
	zstd := compress.Spec{Algorithm: compress.Zstd}
	mapped := map[string]string{"/old": "/new"}
	tests := []struct {
		name     string
		location string
		flags    DestinationFlags
		want     Format
		err      string // a part of the error, "" for none
	}{
		{"stdout is a stream", "-", DestinationFlags{}, Stream, ""},
		{"stdout with -F tar is a stream", "-", DestinationFlags{Format: "t"}, Stream, ""},
		{"compressed stream", "-", DestinationFlags{Compress: zstd}, Stream, ""},
		{"directory is plain", "/backups/x", DestinationFlags{}, Plain, ""},
		{"-Fp", "/backups/x", DestinationFlags{Format: "p"}, Plain, ""},
		{"-F tar", "/backups/x", DestinationFlags{Format: "tar"}, TarDir, ""},
		{"-F tar compressed", "/backups/x", DestinationFlags{Format: "tar", Compress: zstd}, TarDir, ""},
		{"s3 is one object", "s3://b/p", DestinationFlags{}, Stream, ""},
		{"s3 -F tar", "s3://b/p", DestinationFlags{Format: "t"}, TarDir, ""},
		{"plain with -T", "/backups/x", DestinationFlags{Mapping: mapped}, Plain, ""},
		{"refresh plain", "/backups/x", DestinationFlags{Refresh: true}, Plain, ""},
		{"unknown format", "/backups/x", DestinationFlags{Format: "x"}, "", "use -F plain or -F tar"},
		{"plain to stdout", "-", DestinationFlags{Format: "plain"}, "", "cannot go to stdout"},
		{"plain to s3", "s3://b/p", DestinationFlags{Format: "p"}, "", "cannot go to S3"},
		{"compressed plain", "/backups/x", DestinationFlags{Compress: zstd}, "", "-z applies to tar output only"},
		{"-T with tar", "/backups/x", DestinationFlags{Format: "t", Mapping: mapped}, "", "edit tablespace_map"},
		{"-T with a stream", "-", DestinationFlags{Mapping: mapped}, "", "plain format only"},
		{"-T with s3", "s3://b/p", DestinationFlags{Mapping: mapped}, "", "plain format only"},
		{"refresh a stream", "-", DestinationFlags{Refresh: true}, "", "--refresh updates a plain backup"},
		{"refresh tar", "/backups/x", DestinationFlags{Format: "t", Refresh: true}, "", "--refresh updates a plain backup"},
		{"refresh and force", "/backups/x", DestinationFlags{Refresh: true, Force: true}, "", "exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDestination(tt.location, tt.flags)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Format != tt.want {
				t.Errorf("format %q, want %q", d.Format, tt.want)
			}
		})
	}
}

// TestTablespaceTargets: -T moves a tablespace, others stay where the server has them, one in
// place inside the data directory needs no target, and -T naming no tablespace is refused.
func TestTablespaceTargets(t *testing.T) {
	spaces := []session.Tablespace{{OID: "16400", Location: "/srv/ts1"}, {OID: "16401", Location: "/srv/ts2"},
		{OID: "16402", Location: "pg_tblspc/16402"}}
	d := Destination{Location: t.TempDir(), Mapping: map[string]string{"/srv/ts1": "/restore/ts1"}}
	got, err := d.tablespaceTargets(spaces)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"16400": "/restore/ts1", "16401": "/srv/ts2"}
	if len(got) != len(want) || got["16400"] != want["16400"] || got["16401"] != want["16401"] {
		t.Errorf("targets %v, want %v", got, want)
	}
	d.Mapping = map[string]string{"/srv/nothing": "/x"}
	if _, err := d.tablespaceTargets(spaces); err == nil || !strings.Contains(err.Error(), "names no tablespace") {
		t.Errorf("-T of no tablespace: %v", err)
	}
}
