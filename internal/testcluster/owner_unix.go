//go:build unix

package testcluster

import (
	"io/fs"
	"syscall"
)

// fileOwner returns the uid and gid of fi, used to decide whether the
// postgres user can traverse a directory.
func fileOwner(fi fs.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
