package testcluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The environment that confines the tests and the bench to what a shared or firewalled host allows
// (docs/testing.md).
const (
	// PortsVar names the TCP ports on 127.0.0.1 that servers, proxies and stores may listen on,
	// as FIRST-LAST: PGPULL_TEST_PORTS=40000-40999. Unset, any free port goes.
	PortsVar = "PGPULL_TEST_PORTS"
	// ScratchVar names the folder that scratch clusters, their sockets and the bench's work
	// directories go in. Unset, the system's temporary folder (TMPDIR, else /tmp) does.
	ScratchVar = "PGPULL_SCRATCH"
)

// Listen listens on 127.0.0.1, on a port of PGPULL_TEST_PORTS when it is set, else on any.
func Listen() (net.Listener, error) {
	lo, hi, err := PortRange()
	if err != nil {
		return nil, err
	}
	if lo == 0 {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	n := hi - lo + 1
	start := rand.IntN(n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(lo+(start+i)%n))
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no free port on 127.0.0.1 in %s=%s: widen the range", PortsVar, os.Getenv(PortsVar))
}

// FreePort returns a TCP port on 127.0.0.1 (of PGPULL_TEST_PORTS when set) that was free a moment
// ago. Start retries with a new one if it is taken by the time the server binds.
func FreePort() (int, error) {
	l, err := Listen()
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr is FreePort as host:port, for a listener that takes an address.
func FreeAddr() (string, error) {
	p, err := FreePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}

// PortRange reads PGPULL_TEST_PORTS: its first and last port, or zeros when it is unset.
func PortRange() (lo, hi int, err error) {
	v := strings.TrimSpace(os.Getenv(PortsVar))
	if v == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(v, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("%s=%q: give FIRST-LAST, two ports from 1024 to 65535, as 40000-40999", PortsVar, v)
	}
	return lo, hi, nil
}

// Scratch is the folder for scratch clusters and work directories: PGPULL_SCRATCH, else the
// system's temporary folder.
func Scratch() string {
	if dir := os.Getenv(ScratchVar); dir != "" {
		return dir
	}
	return os.TempDir()
}

// socketParent is where a cluster's socket directory goes: the scratch folder when a socket path
// under it fits the 107 bytes a Unix socket's path may have, else /tmp.
func socketParent() string {
	dir, err := filepath.Abs(Scratch())
	// the socket directory's name (pgs and 10 digits) and .s.PGSQL.NNNNN
	if err != nil || len(dir)+len("/pgs0123456789/.s.PGSQL.65535") > 100 {
		return "/tmp"
	}
	return dir
}
