package amqpx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// Only the payment service's broker user may publish payment results: the broker refuses the
// other users at the exchange and refuses any user_id but the connection's own, and what still
// reaches a consumer's queue another way (the default exchange, the admin) is parked unhandled.
func TestResultsConsumerHandlesOnlyThePaymentUsersMessages(t *testing.T) {
	const queue = "paysuite.course.publisher-test"
	stack := testkit.NewStack(t)
	gdb := openDB(t)
	conn := dial(t, stack.AMQPURL("course"))
	h := newScripted(gdb)
	paymentUser, orderUser := stack.BrokerUser("payment"), stack.BrokerUser("order")
	cfg := amqpx.PaymentResultsConsumer("test", queue, paymentUser)
	cfg.MaxAttempts, cfg.RetryBackoff = 3, 10*time.Millisecond
	testkit.Go(t, func(ctx context.Context) error {
		return amqpx.Consume(ctx, conn, gdb, cfg, h.handle, testkit.Logger(t))
	})
	admin := rawChannel(t, stack.AdminAMQPURL())
	testkit.Eventually(t, waitLong, func() bool { // subscribed, so bound
		q, err := rawChannel(t, stack.AdminAMQPURL()).QueueDeclarePassive(queue, true, false, false, false, nil)
		return err == nil && q.Consumers == 1
	}, "consumer never subscribed")

	send := func(url, exchange, key, userID, id, body string, headers amqp.Table) error {
		return testkit.PublishAs(t, url, exchange, key, userID, amqp.Publishing{MessageId: id, Body: []byte(body), Headers: headers})
	}
	payment, order := stack.AMQPURL("payment"), stack.AMQPURL("order")
	ex := amqpx.PaymentResultsExchange
	if err := send(payment, ex, "", paymentUser, "genuine", "ok", nil); err != nil {
		t.Fatalf("the payment user publishing its results: %v", err)
	}
	if err := send(payment, ex, "", paymentUser, "genuine-flaky", "flaky", nil); err != nil {
		t.Fatal(err)
	}

	// Refused by the broker: nothing is delivered.
	if err := send(order, ex, "", orderUser, "order-to-exchange", "ok", nil); err == nil {
		t.Error("the order user published to the results exchange")
	}
	if err := send(order, "", queue, paymentUser, "order-as-payment", "ok", nil); err == nil {
		t.Error("the order user published with the payment user's user_id")
	}
	if err := send(stack.AdminAMQPURL(), ex, "", paymentUser, "admin-as-payment", "ok", nil); err == nil {
		t.Error("the admin published with the payment user's user_id")
	}
	// Delivered, and parked by the consumer.
	forged := map[string]error{
		"order-default-exchange": send(order, "", queue, orderUser, "order-default-exchange", "ok", nil),
		"order-no-user-id":       send(order, "", queue, "", "order-no-user-id", "ok", nil),
		"order-claims-verified": send(order, "", queue, orderUser, "order-claims-verified", "ok",
			amqp.Table{amqpx.HeaderVerifiedPublisher: paymentUser}),
		"admin-no-user-id": send(stack.AdminAMQPURL(), ex, "", "", "admin-no-user-id", "ok", nil),
	}
	for id, err := range forged {
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}

	testkit.Eventually(t, waitLong, func() bool {
		return effects(t, gdb, "genuine") == 1 && effects(t, gdb, "genuine-flaky") == 1
	}, "the payment user's results were not handled (the flaky one after two retries)")
	got := map[string]amqp.Delivery{}
	testkit.Eventually(t, waitLong, func() bool { parked(t, admin, queue, got); return len(got) >= len(forged) },
		"want %d parked forgeries, got %v", len(forged), keys(got))
	for id := range forged {
		d, ok := got[id+"|ok"]
		if !ok {
			t.Errorf("%s not parked", id)
			continue
		}
		if reason, _ := d.Headers[amqpx.HeaderParkReason].(string); !strings.Contains(reason, "not by "+paymentUser) {
			t.Errorf("%s parked for %q", id, reason)
		}
		if h.callsOf(id) != 0 || effects(t, gdb, id) != 0 {
			t.Errorf("%s reached the handler", id)
		}
	}
	if len(got) != len(forged) {
		t.Errorf("parked %v, want only the forgeries", keys(got))
	}
	for _, id := range []string{"order-to-exchange", "order-as-payment", "admin-as-payment"} {
		if h.callsOf(id) != 0 {
			t.Errorf("%s reached the handler", id)
		}
	}
}
