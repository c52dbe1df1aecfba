package amqpx_test

import (
	"context"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// The broker confirmed a row but marking it published failed: the relay publishes it again, and
// the consumer's dedupe absorbs the second copy, so the downstream effect happens once.
//
// The fault is MariaDB's own: a trigger makes the relay's UPDATE … SET published_at fail (as a
// lost database connection or a crash at that moment would leave the row), until the test drops
// it. The relay and consumer are the real ones, on the real broker.
func TestRelayFailingToMarkPublishedIsAbsorbedByTheConsumer(t *testing.T) {
	ctx := context.Background()
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	obs := observe(t, url, amqpx.PaymentResultsExchange)
	conn := dial(t, url, amqpx.DeclarePaymentResults)
	h := newScripted(gdb)
	cfg := amqpx.ConsumerConfig{Name: "test", Queue: "test.mark-fails",
		Bindings: []amqpx.Binding{{Exchange: amqpx.PaymentResultsExchange}}}
	testkit.Go(t, func(ctx context.Context) error {
		return amqpx.Consume(ctx, conn, gdb, cfg, h.handle, testkit.Logger(t))
	})
	testkit.WaitForConsumer(t, url, cfg.Queue)

	exec := func(q string) {
		t.Helper()
		if err := gdb.Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TRIGGER outbox_mark_fails BEFORE UPDATE ON outbox_messages FOR EACH ROW
		IF OLD.published_at IS NULL AND NEW.published_at IS NOT NULL THEN
			SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'test: marking published fails';
		END IF`)
	relay := startRelay(t, gdb, conn)
	if err := amqpx.AddToOutbox(ctx, gdb, amqpx.Message{ID: "sent-twice", Exchange: amqpx.PaymentResultsExchange, Body: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	relay.Wake()
	testkit.Eventually(t, waitLong, func() bool { n, _ := obs.byID(); return n["sent-twice"] >= 2 },
		"the relay never published again a row it could not mark published")
	if n := countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE message_id = 'sent-twice' AND published_at IS NULL"); n != 1 {
		t.Fatalf("the row is marked published (%d unmarked rows) although every UPDATE failed", n)
	}
	exec("DROP TRIGGER outbox_mark_fails")

	// The sentinel goes out after the last copy (one relay, one channel, id order) and the
	// consumer handles in broker order, so once its effect is there every copy was handled.
	if err := amqpx.AddToOutbox(ctx, gdb, amqpx.Message{ID: "sentinel", Exchange: amqpx.PaymentResultsExchange, Body: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	relay.Wake()
	testkit.Eventually(t, waitLong, func() bool { return effects(t, gdb, "sentinel") == 1 }, "sentinel not consumed")
	// The consumer may handle the sentinel before the relay's record of that pass commits.
	testkit.Eventually(t, waitLong, func() bool {
		return countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE published_at IS NULL") == 0
	}, "rows still unpublished once the UPDATE works again")
	n, _ := obs.byID()
	if e, c := effects(t, gdb, "sent-twice"), h.callsOf("sent-twice"); e != 1 || c != 1 {
		t.Fatalf("%d copies delivered: effects %d, handler calls %d; want the effect once", n["sent-twice"], e, c)
	}
}

// The consumer's connection dies after its handler's transaction committed and before the ack
// reaches the broker: the broker delivers the message again, and the dedupe row committed with
// the effect makes the second delivery a no-op.
//
// The fault is a real connection loss: the consumer reaches the broker through a TCP proxy, and
// the handler cuts it after writing its effect, so the commit still happens and the ack cannot.
func TestConsumerKilledAfterItsEffectBeforeItsAck(t *testing.T) {
	const queue = "test.killed"
	brokerURL := testkit.AMQPURL(t)
	gdb := openDB(t)
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testkit.NewTCPProxy(t, u.Host)
	conn := dial(t, proxy.URL(brokerURL))
	var (
		calls sync.Map // message id → *atomic.Int32
		cut   atomic.Bool
	)
	handler := func(ctx context.Context, d amqpx.Delivery) error {
		n, _ := calls.LoadOrStore(d.MessageID, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		if err := db.Conn(ctx, gdb).Exec("INSERT INTO effects (message_id) VALUES (?)", d.MessageID).Error; err != nil {
			return err
		}
		if d.MessageID == "acked-never" && cut.CompareAndSwap(false, true) {
			proxy.Cut() // the effect commits after this; its ack has no connection left
		}
		return nil
	}
	testkit.Go(t, func(ctx context.Context) error {
		return amqpx.Consume(ctx, conn, gdb, amqpx.ConsumerConfig{Name: "test", Queue: queue}, handler, testkit.Logger(t))
	})
	testkit.WaitForConsumer(t, brokerURL, queue)
	raw := rawChannel(t, brokerURL) // the test's own way in, around the proxy
	publish(t, raw, queue, amqp.Publishing{MessageId: "acked-never", Body: []byte("x")})

	testkit.Eventually(t, waitLong, func() bool { return effects(t, gdb, "acked-never") == 1 && !conn.Connected() },
		"the handler never committed its effect before the connection died")
	testkit.Eventually(t, waitLong, func() bool {
		q, err := raw.QueueDeclarePassive(queue, true, false, false, false, nil)
		return err == nil && q.Messages == 1
	}, "the unacked message did not go back to the queue when the consumer's connection died")

	proxy.Restore()
	publish(t, raw, queue, amqp.Publishing{MessageId: "after", Body: []byte("x")})
	// One worker takes deliveries in queue order: the requeued message comes before "after".
	testkit.Eventually(t, waitLong, func() bool { return effects(t, gdb, "after") == 1 }, "consumer did not resume")
	n, _ := calls.Load("acked-never")
	if e, c := effects(t, gdb, "acked-never"), n.(*atomic.Int32).Load(); e != 1 || c != 1 {
		t.Fatalf("redelivered message: effects %d, handler calls %d; want the effect once and no second call", e, c)
	}
	if q, err := raw.QueueDeclarePassive(queue, true, false, false, false, nil); err != nil || q.Messages != 0 {
		t.Fatalf("queue after the redelivery: %+v, %v; want it empty", q, err)
	}
}
