package restore

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// Owner is the OS account the restored files are given to (--owner): the one the server will
// run as, which PostgreSQL demands own its data directory.
type Owner struct {
	Name     string
	UID, GID int
}

// LookupOwner reads --owner: USER or USER:GROUP, names or numbers; without a group, the user's
// own. Giving files to another user takes root, so anyone else may name only themselves.
func LookupOwner(spec string) (*Owner, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return nil, fmt.Errorf("--owner %s: no such user on this host", spec)
		}
	}
	o := &Owner{Name: u.Username}
	if o.UID, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("--owner %s: user id %q is not a number", spec, u.Uid)
	}
	gid := u.Gid
	if hasGroup {
		g, err := user.LookupGroup(group)
		if err != nil {
			if g, err = user.LookupGroupId(group); err != nil {
				return nil, fmt.Errorf("--owner %s: no such group on this host", spec)
			}
		}
		gid = g.Gid
	}
	if o.GID, err = strconv.Atoi(gid); err != nil {
		return nil, fmt.Errorf("--owner %s: group id %q is not a number", spec, gid)
	}
	if euid := os.Geteuid(); euid != 0 && euid != o.UID {
		return nil, fmt.Errorf("--owner %s: giving the files to another user takes root; run pgpull restore as root, or as %s", spec, o.Name)
	}
	return o, nil
}

// chown gives path (not what a link leads to) to the owner; nothing without one.
func (o *Owner) chown(path string) error {
	if o == nil {
		return nil
	}
	return os.Lchown(path, o.UID, o.GID)
}

// chownIn gives name in root to the owner.
func (o *Owner) chownIn(root *os.Root, name string) error {
	if o == nil {
		return nil
	}
	return root.Lchown(name, o.UID, o.GID)
}

// chownFile gives an open file to the owner.
func (o *Owner) chownFile(f *os.File) error {
	if o == nil {
		return nil
	}
	return f.Chown(o.UID, o.GID)
}
