package main

import (
	"runtime/debug"
	"testing"
)

// TestVersionLineTags: a build with tags says so, since -tags libzstd changes how zstd output is
// made; a default build's line is as before.
func TestVersionLineTags(t *testing.T) {
	for _, tt := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "pgpull v1.2.3, go1.26.8"},
		{[]debug.BuildSetting{{Key: "-tags", Value: "libzstd"}, {Key: "vcs.revision", Value: "abc"}},
			"pgpull v1.2.3, revision abc, built with -tags libzstd, go1.26.8"},
	} {
		info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: tt.settings}
		if got := versionLine(info); got != tt.want {
			t.Errorf("versionLine = %q, want %q", got, tt.want)
		}
	}
}
