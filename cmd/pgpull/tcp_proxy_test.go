package main

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// tcpProxy is what the tests' fault proxies share: a loopback listener that hands each
// connection to handle, and a Close that ends every connection it tracked, so that the server's
// backends behind them exit.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// listen starts serving connections with handle until t ends.
func (p *tcpProxy) listen(t *testing.T, handle func(client net.Conn)) {
	t.Helper()
	ln, err := testcluster.Listen()
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	p.wg.Go(func() {
		for {
			client, err := p.ln.Accept()
			if err != nil {
				return
			}
			p.track(client)
			p.wg.Go(func() { handle(client) })
		}
	})
	t.Cleanup(p.Close)
}

// Port is where clients connect.
func (p *tcpProxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Close ends every connection, so that their backends exit.
func (p *tcpProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// dial connects to upstream and tracks the connection, so that Close ends it too.
func (p *tcpProxy) dial(upstream string) (net.Conn, error) {
	c, err := net.Dial("tcp", upstream)
	if err == nil {
		p.track(c)
	}
	return c, err
}

func (p *tcpProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
}

// forward connects client to upstream: what the client sends goes as it is, what the server sends
// goes through carry, which returns when either side ends.
func (p *tcpProxy) forward(client net.Conn, upstream string, carry func(server, client net.Conn)) {
	server, err := p.dial(upstream)
	if err == nil {
		go func() {
			_, _ = io.Copy(server, client)
			server.Close()
		}()
		carry(server, client)
		server.Close()
	}
	client.Close()
}
