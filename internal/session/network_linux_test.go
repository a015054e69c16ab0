package session

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDialerSetsSocketOptions reads back from the socket what the dialer was told: the kernel,
// not pgpull, sends the probes.
func TestDialerSetsSocketOptions(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	n := DefaultNetwork()
	conn, err := n.dialer().DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name       string
		level, opt int
		value      int
	}{
		{"SO_KEEPALIVE", syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", syscall.IPPROTO_TCP, unix.TCP_KEEPIDLE, int(n.KeepAliveIdle / time.Second)},
		{"TCP_KEEPINTVL", syscall.IPPROTO_TCP, unix.TCP_KEEPINTVL, int(n.KeepAliveInterval / time.Second)},
		{"TCP_KEEPCNT", syscall.IPPROTO_TCP, unix.TCP_KEEPCNT, n.KeepAliveCount},
		{"TCP_USER_TIMEOUT", syscall.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(n.UserTimeout / time.Millisecond)},
	}
	for _, w := range want {
		var got int
		var gerr error
		if err := raw.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), w.level, w.opt) }); err != nil || gerr != nil {
			t.Fatalf("%s: %v %v", w.name, err, gerr)
		}
		if got != w.value {
			t.Errorf("%s = %d; want %d", w.name, got, w.value)
		}
	}
}
