//go:build !unix

package testcluster

import "io/fs"

// fileOwner is unknown off Unix; there is no root-vs-postgres split there.
func fileOwner(fs.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }
