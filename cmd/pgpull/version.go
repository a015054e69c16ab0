package main

import (
	"runtime/debug"
	"strings"
)

// buildInfo is what the Go toolchain stamped into the binary; nil when it stamped nothing.
func buildInfo() *debug.BuildInfo {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return info
}

// versionLine is pgpull --version: the module version, the commit it was built from when the
// build was made in a git checkout, and the build tags when there were any (-tags libzstd
// changes the zstd encoder, which a report of a speed or a bug needs to say).
func versionLine(info *debug.BuildInfo) string {
	if info == nil {
		return "pgpull (no build information)"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, at, tags string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		case "-tags":
			tags = s.Value
		}
	}
	parts := []string{"pgpull " + version}
	if rev != "" {
		r := "revision " + rev
		if at != "" {
			r += " of " + at
		}
		if modified {
			r += ", with uncommitted changes"
		}
		parts = append(parts, r)
	}
	if tags != "" {
		parts = append(parts, "built with -tags "+tags)
	}
	parts = append(parts, info.GoVersion)
	return strings.Join(parts, ", ")
}
