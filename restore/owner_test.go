package restore

import (
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
)

func TestLookupOwner(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(me.Uid)
	gid, _ := strconv.Atoi(me.Gid)
	tests := []struct {
		spec     string
		uid, gid int
		want     string // an error's words; "" when accepted
	}{
		{me.Username, uid, gid, ""},
		{me.Uid, uid, gid, ""},
		{me.Username + ":" + me.Gid, uid, gid, ""},
		{"no-such-user-pgpull", 0, 0, "no such user"},
		{me.Username + ":no-such-group-pgpull", 0, 0, "no such group"},
	}
	if os.Geteuid() != 0 {
		tests = append(tests, struct {
			spec     string
			uid, gid int
			want     string
		}{"root", 0, 0, "takes root"})
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			o, err := LookupOwner(tt.spec)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %+v, %v; want an error saying %q", o, err, tt.want)
				}
				return
			}
			if err != nil || o.UID != tt.uid || o.GID != tt.gid {
				t.Fatalf("got %+v, %v; want uid %d gid %d", o, err, tt.uid, tt.gid)
			}
		})
	}
}
