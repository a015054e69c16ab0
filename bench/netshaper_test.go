package main

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

func TestParseBandwidth(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "200Mbit": 200e6, "1gbit": 1e9, "500kbit/s": 500e3, "1.5Mbps": 1.5e6} {
		if got, err := parseBandwidth(in); err != nil || got != want {
			t.Errorf("parseBandwidth(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"200", "fast", "-1Mbit", "200MB"} {
		if _, err := parseBandwidth(bad); err == nil {
			t.Errorf("parseBandwidth(%q) accepted", bad)
		}
	}
}

// echoServer answers every connection by echoing what it reads.
func echoServer(t *testing.T) string {
	t.Helper()
	l, err := testcluster.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return l.Addr().String()
}

// The shaper's delay and cap are checked loosely: a shared CI machine can
// be slower, never faster, than the shaping allows.
func TestNetShaperDelaysEachWay(t *testing.T) {
	s, err := startNetShaper(echoServer(t), 50*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1)
	t0 := time.Now()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if rtt := time.Since(t0); rtt < 95*time.Millisecond || rtt > 2*time.Second {
		t.Errorf("round trip %v through 50ms each way, want about 100ms", rtt)
	}
}

func TestNetShaperCapsEachConnection(t *testing.T) {
	s, err := startNetShaper(echoServer(t), 0, 8e6) // 1 MB/s each way
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 500_000
	t0 := time.Now()
	go c.Write(make([]byte, n))
	if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 350*time.Millisecond || d > 10*time.Second {
		t.Errorf("500 kB at 1 MB/s took %v, want about 0.5s", d)
	}
}
