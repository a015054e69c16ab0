package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
	"testing"
)

// stallProxy forwards TCP connections to a PostgreSQL server. The first connection whose startup
// message names application stops carrying data to the client once it has carried after bytes,
// as a connection does whose network path silently died; the server backend stays. It counts the
// bytes it carries from the server to clients: what a run costs on the wire.
type stallProxy struct {
	tcpProxy
	upstream    string
	application []byte
	after       int64

	stalled  atomic.Bool // a connection has been stalled
	toClient atomic.Int64
}

func startStallProxy(t *testing.T, upstream, application string, after int64) *stallProxy {
	t.Helper()
	p := &stallProxy{upstream: upstream, application: []byte("application_name\x00" + application + "\x00"), after: after}
	p.listen(t, p.handle)
	return p
}

func (p *stallProxy) handle(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	p.track(server)
	defer server.Close()
	// The startup message: an int32 length that counts itself, then the protocol version and
	// name/value pairs, application_name among them.
	var head [4]byte
	if _, err := io.ReadFull(client, head[:]); err != nil {
		return
	}
	startup := make([]byte, binary.BigEndian.Uint32(head[:])-4)
	if _, err := io.ReadFull(client, startup); err != nil {
		return
	}
	if _, err := server.Write(append(head[:], startup...)); err != nil {
		return
	}
	stall := bytes.Contains(startup, p.application) && p.stalled.CompareAndSwap(false, true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(server, client)
		server.Close()
		client.Close()
	}()
	limit := int64(-1)
	if stall {
		limit = p.after
	}
	copyToClient(client, countingConn{server, &p.toClient}, limit)
	<-done
}

// ToClients is how many bytes the proxy has carried from the server to its clients.
func (p *stallProxy) ToClients() int64 { return p.toClient.Load() }

// countingConn counts what is read from it.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// copyToClient copies until either side ends, or, with limit >= 0, stops reading after limit
// bytes and leaves the connection hanging until it is closed.
func copyToClient(client, server net.Conn, limit int64) {
	if limit < 0 {
		_, _ = io.Copy(client, server)
		client.Close()
		return
	}
	_, _ = io.CopyN(client, server, limit)
}
