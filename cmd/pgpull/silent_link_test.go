package main

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// silentLink forwards TCP connections to a PostgreSQL server until it has carried after bytes to
// its clients; then it goes silent, as a network path does that dies without a reset: every
// connection, and every new one, stays open and carries nothing either way. A client that closes
// its end still closes the server's, so the test can see the server let go of the backup once
// pgpull gives up (a real dead path leaves that to the server's own keepalives).
type silentLink struct {
	tcpProxy
	upstream string
	after    int64

	toClient atomic.Int64
	silentAt atomic.Int64 // unix nanoseconds; 0 while the link carries data
}

func startSilentLink(t *testing.T, upstream string, after int64) *silentLink {
	t.Helper()
	l := &silentLink{upstream: upstream, after: after}
	l.listen(t, l.handle)
	return l
}

// SilentSince is when the link went silent; zero while it carries data.
func (l *silentLink) SilentSince() time.Time {
	if ns := l.silentAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

func (l *silentLink) silent() bool { return l.silentAt.Load() != 0 }

// Silence makes the link silent now.
func (l *silentLink) Silence() { l.silentAt.CompareAndSwap(0, time.Now().UnixNano()) }

// handle carries one connection both ways until either end closes it.
func (l *silentLink) handle(client net.Conn) {
	defer client.Close()
	if l.silent() {
		drain(client) // accepted, never answered
		return
	}
	server, err := net.Dial("tcp", l.upstream)
	if err != nil {
		return
	}
	l.track(server)
	defer server.Close()
	fromClient := make(chan struct{})
	go func() {
		defer close(fromClient)
		l.carry(client, server, false)
		server.Close() // the client closed: the server's backend goes
		client.Close()
	}()
	l.carry(server, client, true)
	if !l.silent() {
		client.Close() // the server ended the connection
	}
	<-fromClient
}

// carry copies from src to dst until either fails or the link goes silent; toClient (src is the
// server) counts what reaches the client and silences the link past after. Once silent, a client
// src is read and dropped until it closes, so that its close is seen; a server src is not read.
func (l *silentLink) carry(src, dst net.Conn, toClient bool) {
	buf := make([]byte, 32<<10)
	for {
		if l.silent() {
			if !toClient {
				drain(src)
			}
			return
		}
		n, err := src.Read(buf)
		if n > 0 && !l.silent() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if toClient && l.toClient.Add(int64(n)) >= l.after {
				l.silentAt.CompareAndSwap(0, time.Now().UnixNano())
			}
		}
		if err != nil {
			return
		}
	}
}

// drain reads and drops what c sends until it closes.
func drain(c net.Conn) {
	buf := make([]byte, 4<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}
