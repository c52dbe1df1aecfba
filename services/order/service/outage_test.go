package service_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
)

// The broker goes away while orders are being created: CreateOrder still succeeds (the
// deadline message waits in the outbox, written with the order), and once the broker is back
// every deadline message is delivered and every order is cancelled at (or after) its deadline
// with its stock back. The sweeper is off, so only the broker's messages can do it.
func TestBrokerOutageWhileOrdersAreCreatedLosesNothing(t *testing.T) {
	stack := testkit.NewStack(t)
	amqpURL := stack.AMQPURL("order")
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testkit.NewTCPProxy(t, u.Host)
	const timeout = 3 * time.Second
	e := startOn(t, stack, withBroker(stack, proxy.URL(amqpURL), timeout)) // SweepInterval: an hour
	e.addSku(t, "mug", "GOODS", 4500, 20)
	ch := testkit.AMQPChannel(t, stack.AdminAMQPURL()) // the test's own way in, around the proxy
	delayQueue := "paysuite.order.pay-timeout." + timeout.String()

	proxy.Cut()
	var orders []*orderv1.Order
	for i := range 6 {
		orders = append(orders, e.create(t, "u1", fmt.Sprint("r", i), item("mug", 2)))
	}
	if s := e.stock(t, "mug"); s != 8 {
		t.Fatalf("stock = %d during the outage, want 8", s)
	}
	if n := e.count(t, "SELECT COUNT(*) FROM outbox_messages WHERE published_at IS NULL"); n != 6 {
		t.Fatalf("%d unpublished outbox rows during the outage, want the 6 deadline messages", n)
	}
	if n := queueLength(t, ch, delayQueue); n != 0 {
		t.Fatalf("%d messages reached %s through a cut connection", n, delayQueue)
	}
	// Keep the broker away past the deadlines: the messages are published late, not lost.
	time.Sleep(time.Until(orders[len(orders)-1].GetPayDeadline().AsTime()))
	if o := e.get(t, orders[0].GetOrderId()); o.GetStatus() != orderv1.OrderStatus_PENDING_PAYMENT {
		t.Fatalf("order is %s with the broker down and the sweeper off", o.GetStatus())
	}
	proxy.Restore()

	for _, o := range orders {
		got := e.eventuallyStatus(t, o.GetOrderId(), orderv1.OrderStatus_CANCELLED)
		if got.GetCancelReason() != "TIMEOUT" || got.GetCancelledAt().AsTime().Before(got.GetPayDeadline().AsTime()) {
			t.Fatalf("order after the outage = %v; want TIMEOUT, not before its deadline", got)
		}
	}
	testkit.Eventually(t, eventuallyDeadline, func() bool {
		return e.count(t, "SELECT COUNT(*) FROM processed_messages WHERE message_id LIKE 'order-pay-deadline-%'") == 6 &&
			e.count(t, "SELECT COUNT(*) FROM outbox_messages WHERE published_at IS NULL") == 0
	}, "not every deadline message was published and consumed after the outage")
	if s := e.stock(t, "mug"); s != 20 {
		t.Fatalf("stock = %d after the cancels, want 20 (each order's 2 back once)", s)
	}
}
