package amqpx_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// The broker vanishes while events are being written: every one still arrives, and the
// consumer's dedupe makes the downstream effect exactly once.
func TestOutboxSurvivesBrokerOutage(t *testing.T) {
	ctx := context.Background()
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	proxy := testkit.NewTCPProxy(t, "127.0.0.1:5672")
	relayConn := dial(t, proxy.URL(url), amqpx.DeclarePaymentResults)
	relay := amqpx.NewRelay(gdb, relayConn, testkit.Logger(t),
		amqpx.WithPollInterval(50*time.Millisecond), amqpx.WithConfirmTimeout(300*time.Millisecond))
	testkit.Go(t, relay.Run)

	consumerConn := dial(t, url, amqpx.DeclarePaymentResults)
	h := newScripted(gdb)
	cfg := amqpx.ConsumerConfig{Name: "test", Queue: "test.outage",
		Bindings: []amqpx.Binding{{Exchange: amqpx.PaymentResultsExchange}}}
	testkit.Go(t, func(ctx context.Context) error {
		return amqpx.Consume(ctx, consumerConn, gdb, cfg, h.handle, testkit.Logger(t))
	})
	// The binding must exist before anything is published to the fanout.
	testkit.WaitForConsumer(t, url, cfg.Queue)

	add := func(i int) {
		err := db.WithTx(ctx, gdb, func(ctx context.Context, _ *gorm.DB) error {
			return amqpx.AddToOutbox(ctx, gdb, amqpx.Message{ID: fmt.Sprint("out-", i), Exchange: amqpx.PaymentResultsExchange, Body: []byte("ok")})
		})
		if err != nil {
			t.Fatal(err)
		}
		relay.Wake()
	}
	// Warm up so the relay's confirm channel is open before the broker goes quiet.
	add(-1)
	testkit.Eventually(t, waitLong, func() bool { return effects(t, gdb, "out--1") == 1 }, "warm-up message not consumed")

	// First the broker takes messages but its confirms never come back: the relay must count
	// them as failed (they may well have been delivered — at least once).
	proxy.Stall()
	for i := range 20 {
		add(i)
	}
	testkit.Eventually(t, waitLong, func() bool {
		return countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE attempts > 0 AND last_error LIKE '%confirm%' AND published_at IS NULL") > 0
	}, "unconfirmed publishes not recorded as failures")
	// Then the connection goes away altogether while more events are written.
	proxy.Cut()
	for i := 20; i < 50; i++ {
		add(i)
	}
	if n := countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE published_at IS NULL"); n < 30 {
		t.Fatalf("%d unpublished rows during the outage, want at least the 30 added after the cut", n)
	}
	proxy.Restore()

	testkit.Eventually(t, waitLong, func() bool {
		return countRows(t, gdb, "SELECT COUNT(DISTINCT message_id) FROM effects") == 51
	}, "not all 50 messages reached the consumer")
	testkit.Eventually(t, waitLong, func() bool {
		return countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE published_at IS NULL") == 0
	}, "rows left unpublished after the broker came back")
	if n := countRows(t, gdb, "SELECT COUNT(*) FROM effects"); n != 51 {
		t.Fatalf("effects = %d, want exactly 51 (warm-up + 50): one per message despite redeliveries", n)
	}
}

func TestConsumerResubscribesAfterReconnect(t *testing.T) {
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	proxy := testkit.NewTCPProxy(t, "127.0.0.1:5672")
	conn := dial(t, proxy.URL(url))
	h := newScripted(gdb)
	cfg := amqpx.ConsumerConfig{Name: "test", Queue: "test.reconnect"}
	testkit.Go(t, func(ctx context.Context) error {
		return amqpx.Consume(ctx, conn, gdb, cfg, h.handle, testkit.Logger(t))
	})
	raw := rawChannel(t, url)
	testkit.WaitForConsumer(t, url, cfg.Queue)

	publish(t, raw, cfg.Queue, amqp.Publishing{MessageId: "before", Body: []byte("ok")})
	testkit.Eventually(t, waitLong, func() bool { return effects(t, gdb, "before") == 1 }, "not consuming before the cut")

	proxy.Cut()
	testkit.Eventually(t, waitLong, func() bool { return !conn.Connected() }, "Conn did not notice the cut")
	publish(t, raw, cfg.Queue, amqp.Publishing{MessageId: "during", Body: []byte("ok")})
	proxy.Restore()
	publish(t, raw, cfg.Queue, amqp.Publishing{MessageId: "after", Body: []byte("ok")})

	testkit.Eventually(t, waitLong, func() bool {
		return effects(t, gdb, "during") == 1 && effects(t, gdb, "after") == 1
	}, "consumer did not resume after the broker came back")
}

// A service starts while the broker is away; the Conn connects (and declares) once it is back.
func TestDialToleratesABrokerThatIsDown(t *testing.T) {
	url := testkit.AMQPURL(t)
	proxy := testkit.NewTCPProxy(t, "127.0.0.1:5672")
	proxy.Cut()
	conn := dial(t, proxy.URL(url), amqpx.DeclarePaymentResults)
	if conn.Connected() {
		t.Fatal("connected through a cut proxy")
	}
	proxy.Restore()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := conn.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if err := rawChannel(t, url).ExchangeDeclarePassive(amqpx.PaymentResultsExchange, "fanout", true, false, false, false, nil); err != nil {
		t.Fatalf("topology not declared after connecting: %v", err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Channel(context.Background()); err == nil {
		t.Fatal("Channel after Close succeeded")
	}
}

// What retrying cannot fix fails Dial at once, so a misconfigured service does not start.
func TestDialFailsFastOnConfigErrors(t *testing.T) {
	url := testkit.AMQPURL(t)
	if _, err := amqpx.Dial(context.Background(), "http://not-amqp", testkit.Logger(t)); err == nil {
		t.Error("Dial accepted a non-AMQP URL")
	}
	if _, err := rawChannel(t, url).QueueDeclare("q", true, false, false, false, amqp.Table{"x-message-ttl": int32(1000)}); err != nil {
		t.Fatal(err)
	}
	conflicting := amqpx.DeclareQueue("q", amqp.Table{"x-message-ttl": int32(2000)})
	if _, err := amqpx.Dial(context.Background(), url, testkit.Logger(t), conflicting); err == nil {
		t.Error("Dial accepted a topology the broker refuses")
	}
}
