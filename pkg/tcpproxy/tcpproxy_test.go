package tcpproxy

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

// Through the control endpoint a cut closes the open connection and refuses new ones, and a
// restore lets them through again.
func TestControlCutsAndRestores(t *testing.T) {
	p, err := Listen("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctl := httptest.NewServer(Control(p))
	defer ctl.Close()
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	post := func(path string) {
		resp, err := http.Post(ctl.URL+path, "", nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	post("/cut")
	// A bound so a broken cut fails instead of hanging; a cut connection ends well before it.
	_ = open.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = bufio.NewReader(open).ReadString('\n')
	if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
		t.Fatalf("an open connection survived the cut (%v)", err)
	}
	if err := roundTrip(p.Addr()); err == nil {
		t.Fatal("a new connection went through while cut")
	}
	post("/restore")
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("after restore: %v", err)
	}
}
