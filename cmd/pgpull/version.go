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

// versionLine is pgpull --version: the module version, and the commit it was built from when the
// build was made in a git checkout.
func versionLine(info *debug.BuildInfo) string {
	if info == nil {
		return "pgpull (no build information)"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, at string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
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
	parts = append(parts, info.GoVersion)
	return strings.Join(parts, ", ")
}
