package main

import (
	"context"
	"net"
	"testing"

	xrate "golang.org/x/time/rate"
)

// slowLink forwards TCP connections to a PostgreSQL server and caps what each carries from the
// server to the client at a rate, as a WAN link or a TCP window over a long path does.
type slowLink struct {
	tcpProxy
	upstream string
	rate     int // bytes per second, per connection
}

func startSlowLink(t *testing.T, upstream string, bytesPerSecond int) *slowLink {
	t.Helper()
	l := &slowLink{upstream: upstream, rate: bytesPerSecond}
	l.listen(t, l.handle)
	return l
}

func (l *slowLink) handle(client net.Conn) { l.forward(client, l.upstream, l.carry) }

// carry copies from server to client at the link's rate until either side ends.
func (l *slowLink) carry(server, client net.Conn) {
	const chunk = 16 << 10
	limit := xrate.NewLimiter(xrate.Limit(l.rate), chunk)
	buf := make([]byte, chunk)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if limit.WaitN(context.Background(), n) != nil {
				return
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
