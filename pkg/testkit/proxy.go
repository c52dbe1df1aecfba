package testkit

import (
	"net/url"
	"testing"

	"github.com/paysuite/paysuite/pkg/tcpproxy"
)

// TCPProxy forwards a local port to a target so a test can simulate an outage of a shared
// server (RabbitMQ, MariaDB) without stopping it for the other tests running against it
// (pkg/tcpproxy: Cut, Stall, Delay, Restore).
type TCPProxy struct {
	*tcpproxy.Proxy
}

// NewTCPProxy listens on a free loopback port and forwards every connection to target
// (e.g. "127.0.0.1:5672"). It is closed at cleanup.
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	p, err := tcpproxy.Listen("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &TCPProxy{p}
}

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
