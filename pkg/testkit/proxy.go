package testkit

import (
	"net"
	"net/url"
	"sync"
	"testing"
)

// TCPProxy forwards a local port to a target so a test can simulate an outage of a shared
// server (RabbitMQ, MariaDB) without stopping it for the other tests running against it.
type TCPProxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	cut     bool
	stalled bool
	resumed *sync.Cond // broadcast when stalled clears or connections are cut
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// NewTCPProxy listens on a free loopback port and forwards every connection to target
// (e.g. "127.0.0.1:5672"). It is closed at cleanup.
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &TCPProxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.resumed = sync.NewCond(&p.mu)
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's "127.0.0.1:port".
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

// URL returns raw (e.g. testkit.AMQPURL's vhost URL) with its host:port replaced by the proxy's.
func (p *TCPProxy) URL(raw string) string { return WithHost(raw, p.Addr()) }

// WithHost returns raw with its host:port replaced by hostport; user, path and query are kept.
func WithHost(raw, hostport string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic("testkit.WithHost: " + err.Error())
	}
	u.Host = hostport
	return u.String()
}

// Cut closes every connection through the proxy and refuses new ones until Restore,
// which is what clients see when the server goes away.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c) // tells stalled pipes their connection is gone
	}
	p.resumed.Broadcast()
}

// Stall keeps connections open but holds back everything the server sends (replies,
// publisher confirms, deliveries) until Restore, while the client's bytes still reach the
// server: the "published but never confirmed" case.
func (p *TCPProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

// Restore accepts connections again and releases a Stall.
func (p *TCPProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	p.stalled = false
	p.resumed.Broadcast()
}

func (p *TCPProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // listener closed at cleanup
		}
		p.mu.Lock()
		refused := p.cut
		p.mu.Unlock()
		if refused {
			_ = client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		if !p.track(client, server) {
			continue
		}
		p.wg.Go(func() { p.pipe(server, client, false) })
		p.wg.Go(func() { p.pipe(client, server, true) })
	}
}

// track registers both ends unless a Cut happened while dialing the target.
func (p *TCPProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// pipe copies one direction; when either side ends, both are closed so the peer notices.
// The server-to-client direction (stallable) holds each chunk while the proxy is stalled.
func (p *TCPProxy) pipe(dst, src net.Conn, stallable bool) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 && stallable && !p.waitUnstalled(dst) {
			break
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// waitUnstalled blocks while stalled; it reports false if dst was cut meanwhile.
func (p *TCPProxy) waitUnstalled(dst net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.stalled {
		if _, open := p.conns[dst]; !open {
			return false
		}
		p.resumed.Wait()
	}
	_, open := p.conns[dst]
	return open
}
