package testcluster

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestPortRange: with PGPULL_TEST_PORTS, every listener the tests open is inside the range, a full
// range says which variable to widen, and a malformed one is refused with the form it takes.
func TestPortRange(t *testing.T) {
	first := threeFreePorts(t)
	t.Setenv(PortsVar, strconv.Itoa(first)+"-"+strconv.Itoa(first+2))
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for range 3 {
		l, err := Listen()
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		if p := l.Addr().(*net.TCPAddr).Port; p < first || p > first+2 {
			t.Errorf("listening on %d, outside %d-%d", p, first, first+2)
		}
	}
	if _, err := Listen(); err == nil || !strings.Contains(err.Error(), "no free port on 127.0.0.1 in PGPULL_TEST_PORTS") {
		t.Errorf("a full range: %v; want the variable named", err)
	}
	for _, bad := range []string{"40000", "40999-40000", "x-y", "80-90", "40000-70000"} {
		t.Setenv(PortsVar, bad)
		if _, err := FreePort(); err == nil || !strings.Contains(err.Error(), "FIRST-LAST") {
			t.Errorf("%s=%q: %v; want it refused", PortsVar, bad, err)
		}
	}
}

// TestScratch: PGPULL_SCRATCH holds the clusters' folders, and their sockets when the path is short
// enough for a Unix socket.
func TestScratch(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(ScratchVar, dir)
	if Scratch() != dir {
		t.Errorf("Scratch() = %q, want %q", Scratch(), dir)
	}
	if want := dir; len(dir) < 70 && socketParent() != want {
		t.Errorf("socketParent() = %q, want %q", socketParent(), want)
	}
	t.Setenv(ScratchVar, "/"+strings.Repeat("x", 90))
	if socketParent() != "/tmp" {
		t.Errorf("a long scratch path: socketParent() = %q, want /tmp", socketParent())
	}
}

// threeFreePorts finds three consecutive ports that were free a moment ago, and returns the first.
func threeFreePorts(t *testing.T) int {
	t.Helper()
	for first := 40000; first < 60000; first += 97 {
		var ls []net.Listener
		for p := first; p < first+3; p++ {
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
				ls = append(ls, l)
			}
		}
		for _, l := range ls {
			l.Close()
		}
		if len(ls) == 3 {
			return first
		}
	}
	t.Fatal("no three consecutive free ports from 40000 to 60000")
	return 0
}
