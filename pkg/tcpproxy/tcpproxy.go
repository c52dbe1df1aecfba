// Package tcpproxy forwards a loopback port to a target and injects connection faults: cut every
// connection (and refuse new ones), or stall the server's replies. Tests
// (pkg/testkit) and the chaos harness (pkg/cmd/chaos) use it to make MariaDB or RabbitMQ vanish
// for the services without stopping the server itself.
package tcpproxy

import (
	"fmt"
	"net"
	"net/http"
	"sync"
)

// Proxy forwards every connection accepted on its listener to target.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	cut     bool
	stalled bool
	resumed *sync.Cond // broadcast when stalled clears or connections are cut
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// Listen listens on addr ("127.0.0.1:0" for a free port) and forwards to target.
func Listen(addr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.resumed = sync.NewCond(&p.mu)
	p.wg.Go(p.accept)
	return p, nil
}

// Close stops listening, cuts every connection and waits for the pipes to end.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

// Addr is the proxy's "host:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection through the proxy and refuses new ones until Restore,
// which is what clients see when the server goes away.
func (p *Proxy) Cut() {
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
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

// Restore accepts connections again and releases a Stall.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	p.stalled = false
	p.resumed.Broadcast()
}

func (p *Proxy) accept() {
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
func (p *Proxy) track(conns ...net.Conn) bool {
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
func (p *Proxy) pipe(dst, src net.Conn, stallable bool) {
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
func (p *Proxy) waitUnstalled(dst net.Conn) bool {
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

// Control serves the proxy's faults over HTTP, for scripts and other processes (pkg/cmd/tcpproxy):
// POST /cut, /stall, /restore; GET / reports the addresses.
func Control(p *Proxy) http.Handler {
	mux := http.NewServeMux()
	for path, fault := range map[string]func(){"/cut": p.Cut, "/stall": p.Stall, "/restore": p.Restore} {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, _ *http.Request) {
			fault()
			fmt.Fprintln(w, "ok")
		})
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "listen %s target %s\n", p.Addr(), p.target)
	})
	return mux
}
