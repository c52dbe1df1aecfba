// Command tcpproxy forwards a loopback port to a target and lets another process cut, stall and
// restore the connections over HTTP (pkg/tcpproxy), to take MariaDB or RabbitMQ away from the
// services without stopping the server:
//
//	tcpproxy -listen 127.0.0.1:13306 -target 127.0.0.1:3306 -control 127.0.0.1:13399 &
//	curl -XPOST 127.0.0.1:13399/cut; sleep 5; curl -XPOST 127.0.0.1:13399/restore
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/paysuite/paysuite/pkg/tcpproxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "where the services connect")
	target := flag.String("target", "", "the server (host:port)")
	control := flag.String("control", "127.0.0.1:0", "HTTP control address (POST /cut, /stall, /restore)")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "tcpproxy: -target is required")
		os.Exit(2)
	}
	p, err := tcpproxy.Listen(*listen, *target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpproxy:", err)
		os.Exit(1)
	}
	defer p.Close()
	srv := &http.Server{Addr: *control, Handler: tcpproxy.Control(p)}
	ln, err := net.Listen("tcp", *control)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpproxy:", err)
		os.Exit(1)
	}
	fmt.Printf("tcpproxy: %s -> %s, control http://%s\n", p.Addr(), *target, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "tcpproxy:", err)
		os.Exit(1)
	}
}
