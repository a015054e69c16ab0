package main

import (
	"fmt"
	"regexp"
)

// urlScheme matches a DEST or PATH written as a URL (RFC 3986 scheme, then "://"), which must never
// be taken for a local path: "s3://bk/run1" once became the directory ./s3:/bk/run1.
var urlScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// schemeOf returns the scheme of a location written as a URL, or "" for a local path or "-".
func schemeOf(location string) string {
	if m := urlScheme.FindStringSubmatch(location); m != nil {
		return m[1]
	}
	return ""
}

// unsupportedURL is the error for a URL whose scheme pgpull does not write to or read from.
func unsupportedURL(what, location, scheme string) error {
	return fmt.Errorf("%s %q is a %s:// URL, which pgpull cannot use: give a directory, or - for a stream", what, location, scheme)
}
