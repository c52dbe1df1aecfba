package testkit_test

import (
	"net"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/testkit"
)

func TestTCPProxyCutsAndRestores(t *testing.T) {
	url := testkit.AMQPURL(t)
	p := testkit.NewTCPProxy(t, "127.0.0.1:5672")
	conn, err := amqp.Dial(p.URL(url))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))

	p.Cut()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("connection through the proxy survived Cut")
	}
	if c, err := amqp.DialConfig(p.URL(url), amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)}); err == nil {
		c.Close()
		t.Fatal("dial through a cut proxy succeeded")
	}

	p.Restore()
	again, err := amqp.Dial(p.URL(url))
	if err != nil {
		t.Fatalf("dial after Restore: %v", err)
	}
	again.Close()
}

func TestWithHostKeepsVhostAndCredentials(t *testing.T) {
	got := testkit.WithHost("amqp://guest:guest@127.0.0.1:5672/pst_x", net.JoinHostPort("127.0.0.1", "1234"))
	if got != "amqp://guest:guest@127.0.0.1:1234/pst_x" {
		t.Fatalf("got %s", got)
	}
}

func TestTCPProxyStallHoldsServerBytesUntilRestore(t *testing.T) {
	url := testkit.AMQPURL(t)
	p := testkit.NewTCPProxy(t, "127.0.0.1:5672")
	conn, err := amqp.Dial(p.URL(url))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p.Stall()
	opened := make(chan error, 1)
	go func() {
		ch, err := conn.Channel() // needs the server's channel.open-ok
		if err == nil {
			ch.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		t.Fatalf("channel opened through a stalled proxy: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	p.Restore()
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("channel after Restore: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no channel within 30s of Restore")
	}
}
