package main

import (
	"net"
	"testing"
	"time"
)

// farLink forwards TCP connections to a PostgreSQL server and delays what the server sends by a
// fixed time, as a long path does: a round trip through it takes at least that long, while the
// bytes keep flowing at the machine's rate.
type farLink struct {
	tcpProxy
	upstream string
	delay    time.Duration
}

// startFarLink starts a link to upstream (host:port) that holds the server's bytes for delay.
func startFarLink(t *testing.T, upstream string, delay time.Duration) *farLink {
	t.Helper()
	l := &farLink{upstream: upstream, delay: delay}
	l.listen(t, l.handle)
	return l
}

func (l *farLink) handle(client net.Conn) { l.forward(client, l.upstream, l.carry) }

// delayed is a chunk of the server's bytes and when it may go on.
type delayed struct {
	due  time.Time
	data []byte
}

// carry copies from server to client, each chunk delay after it was read, until either side ends.
func (l *farLink) carry(server, client net.Conn) {
	chunks := make(chan delayed, 1024)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 64<<10)
			n, err := server.Read(buf)
			if n > 0 {
				chunks <- delayed{time.Now().Add(l.delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.due))
		if _, err := client.Write(c.data); err != nil {
			server.Close() // ends the reader, which closes chunks
			for range chunks {
			}
			return
		}
	}
}
