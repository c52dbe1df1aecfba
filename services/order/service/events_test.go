package service_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/testkit"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/order/service"
)

// Broker names the tests check from outside (README, "Reference: broker").
const (
	deadlineExchange   = "paysuite.order.pay-deadline"
	resultsExchange    = "paysuite.payment.results"
	resultsQueue       = "paysuite.order.payment-results"
	resultsParkingQ    = "paysuite.order.payment-results.parking"
	deadlineQueue      = "paysuite.order.pay-deadline"
	resultsConsumer    = "order-payment-results" // processed_messages.consumer of the results queue
	deadlineConsumer   = "order-pay-deadline"
	sweepEveryHour     = time.Hour
	eventuallyDeadline = 20 * time.Second
)

// withBroker connects the service to stack's broker as its own user, through amqpURL when given
// (a proxy's), and believes the payment results of stack's payment user.
func withBroker(stack *testkit.Stack, amqpURL string, payTimeout time.Duration) func(*service.Config) {
	if amqpURL == "" {
		amqpURL = stack.AMQPURL(service.Name)
	}
	paymentUser := stack.BrokerUser("payment")
	return func(c *service.Config) {
		c.AMQPURL = amqpURL
		c.PaymentBrokerUser = paymentUser
		c.PayTimeout = payTimeout
		c.SweepInterval = sweepEveryHour // only the deadline messages cancel, unless a test says otherwise
	}
}

func publish(t *testing.T, ch *amqp.Channel, exchange, key, id string, m proto.Message) {
	t.Helper()
	body, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Publish(exchange, key, false, false, amqp.Publishing{MessageId: id, Body: body, DeliveryMode: amqp.Persistent,
		ContentType: "application/x-protobuf", Type: string(m.ProtoReflect().Descriptor().FullName())}); err != nil {
		t.Fatal(err)
	}
}

func queueLength(t *testing.T, ch *amqp.Channel, name string) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("queue %s: %v", name, err)
	}
	return q.Messages
}

func (e *env) get(t *testing.T, id int64) *orderv1.Order {
	t.Helper()
	o, err := e.client.GetOrder(context.Background(), &orderv1.GetOrderRequest{OrderId: id})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// processed reports whether consumer has committed the message with this id (its dedupe row is
// written in the handler's transaction, so the effect is visible too).
func (e *env) processed(t *testing.T, consumer, messageID string) bool {
	t.Helper()
	return e.count(t, "SELECT COUNT(*) FROM processed_messages WHERE consumer = ? AND message_id = ?", consumer, messageID) == 1
}

func (e *env) waitProcessed(t *testing.T, consumer string, messageIDs ...string) {
	t.Helper()
	for _, id := range messageIDs {
		testkit.Eventually(t, eventuallyDeadline, func() bool { return e.processed(t, consumer, id) },
			"%s never processed message %s", consumer, id)
	}
}

func (e *env) eventuallyStatus(t *testing.T, id int64, want orderv1.OrderStatus) *orderv1.Order {
	t.Helper()
	var o *orderv1.Order
	testkit.Eventually(t, eventuallyDeadline, func() bool {
		o = e.get(t, id)
		return o.GetStatus() == want
	}, "order %d never became %s", id, want)
	return o
}

func TestUnpaidOrderIsCancelledAtItsDeadline(t *testing.T) {
	stack := testkit.NewStack(t)
	e := startOn(t, stack, withBroker(stack, "", 2*time.Second))
	e.addSku(t, "mug", "GOODS", 4500, 10)
	unpaid := e.create(t, "u1", "r1", item("mug", 3))
	paid := e.create(t, "u1", "r2", item("mug", 1))
	if _, err := e.client.MarkOrderPaid(context.Background(), &orderv1.MarkOrderPaidRequest{OrderId: paid.GetOrderId(), PaymentId: 5, AmountFen: 4500}); err != nil {
		t.Fatal(err)
	}
	got := e.eventuallyStatus(t, unpaid.GetOrderId(), orderv1.OrderStatus_CANCELLED)
	if got.GetCancelReason() != "TIMEOUT" || got.GetCancelledAt().AsTime().Before(got.GetPayDeadline().AsTime()) {
		t.Fatalf("cancelled order = %v; want reason TIMEOUT, not before the deadline", got)
	}
	if s := e.stock(t, "mug"); s != 9 {
		t.Fatalf("stock = %d, want 9 (3 back, the paid 1 kept)", s)
	}
	// The paid order's deadline has passed too; its message must leave it alone.
	testkit.Eventually(t, eventuallyDeadline, func() bool {
		return e.count(t, "SELECT COUNT(*) FROM processed_messages WHERE message_id = ?", fmt.Sprint("order-pay-deadline-", paid.GetOrderId())) == 1
	}, "deadline message of the paid order never consumed")
	if o := e.get(t, paid.GetOrderId()); o.GetStatus() != orderv1.OrderStatus_PAID {
		t.Fatalf("paid order became %s", o.GetStatus())
	}
}

func TestShortTimeoutsDoNotWaitBehindLongOnes(t *testing.T) {
	stack := testkit.NewStack(t)
	long := startOn(t, stack, withBroker(stack, "", time.Hour))
	short := startOn(t, stack, withBroker(stack, "", 2*time.Second), func(c *service.Config) {
		c.MySQLDSN = long.cfg.MySQLDSN // two instances of one service: one database, one broker
		c.SnowflakeNode = 2
	})
	long.addSku(t, "mug", "GOODS", 4500, 10)
	waiting := long.create(t, "u1", "r1", item("mug", 1))
	ch := testkit.AMQPChannel(t, stack.AdminAMQPURL())
	testkit.Eventually(t, eventuallyDeadline, func() bool { return queueLength(t, ch, "paysuite.order.pay-timeout.1h0m0s") == 1 },
		"the long order's deadline message never reached its delay queue")
	quick := short.create(t, "u2", "r1", item("mug", 2))

	short.eventuallyStatus(t, quick.GetOrderId(), orderv1.OrderStatus_CANCELLED)
	if o := long.get(t, waiting.GetOrderId()); o.GetStatus() != orderv1.OrderStatus_PENDING_PAYMENT {
		t.Fatalf("order with a 1h timeout is %s", o.GetStatus())
	}
	if s := long.stock(t, "mug"); s != 9 {
		t.Fatalf("stock = %d, want 9", s)
	}
}

func TestSweeperCancelsWhatTheDelayQueueLost(t *testing.T) {
	stack := testkit.NewStack(t)
	e := startOn(t, stack, withBroker(stack, "", 4*time.Second), func(c *service.Config) {
		c.SweepInterval = 200 * time.Millisecond
		c.SweepGrace = 500 * time.Millisecond
	})
	e.addSku(t, "mug", "GOODS", 4500, 10)
	o := e.create(t, "u1", "r1", item("mug", 2))
	ch := testkit.AMQPChannel(t, stack.AdminAMQPURL())
	delayQueue := "paysuite.order.pay-timeout.4s"
	testkit.Eventually(t, eventuallyDeadline, func() bool { return queueLength(t, ch, delayQueue) == 1 },
		"deadline message never reached %s", delayQueue)
	purged, err := ch.QueuePurge(delayQueue, false)
	if err != nil || purged != 1 {
		t.Fatalf("purged %d, %v; want the one deadline message", purged, err)
	}
	got := e.eventuallyStatus(t, o.GetOrderId(), orderv1.OrderStatus_CANCELLED)
	if got.GetCancelReason() != "TIMEOUT" || e.stock(t, "mug") != 10 {
		t.Fatalf("swept order = %v, stock %d; want TIMEOUT and 10", got, e.stock(t, "mug"))
	}
	if n := e.count(t, "SELECT COUNT(*) FROM processed_messages WHERE message_id = ?", fmt.Sprint("order-pay-deadline-", o.GetOrderId())); n != 0 {
		t.Fatalf("the purged message was consumed anyway (%d)", n)
	}
}

func TestDuplicateDeadlineDeliveriesCancelOnce(t *testing.T) {
	stack := testkit.NewStack(t)
	e := startOn(t, stack, withBroker(stack, "", 2*time.Second))
	e.addSku(t, "mug", "GOODS", 4500, 10)
	o := e.create(t, "u1", "r1", item("mug", 4))
	time.Sleep(time.Until(o.GetPayDeadline().AsTime())) // the copies must arrive when the deadline is due
	ch := testkit.AMQPChannel(t, stack.AdminAMQPURL())
	m := &eventsv1.OrderPayDeadline{OrderId: o.GetOrderId(), PayDeadline: o.GetPayDeadline()}
	publish(t, ch, deadlineExchange, "", "dup-a", m)
	publish(t, ch, deadlineExchange, "", "dup-a", m) // redelivered with the same id
	publish(t, ch, deadlineExchange, "", "dup-b", m) // republished with another id
	e.eventuallyStatus(t, o.GetOrderId(), orderv1.OrderStatus_CANCELLED)
	testkit.Eventually(t, eventuallyDeadline, func() bool {
		return e.count(t, "SELECT COUNT(*) FROM processed_messages WHERE message_id IN ('dup-a', 'dup-b', ?)",
			fmt.Sprint("order-pay-deadline-", o.GetOrderId())) == 3 && queueLength(t, ch, deadlineQueue) == 0
	}, "deadline deliveries not all consumed")
	if s := e.stock(t, "mug"); s != 10 {
		t.Fatalf("stock = %d after 4 deliveries, want 10 (released once)", s)
	}
}

func TestOrderFollowsPaymentResults(t *testing.T) {
	stack := testkit.NewStack(t)
	e := startOn(t, stack, withBroker(stack, "", time.Hour))
	e.addSku(t, "mug", "GOODS", 1000, 10)
	o := e.create(t, "u1", "r1", item("mug", 3))
	ch := testkit.AMQPChannel(t, stack.AdminAMQPURL())
	payment := testkit.NewPublisher(t, stack.AMQPURL("payment"), resultsExchange) // as the payment service
	paidAt := timestamppb.New(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC))
	succeeded := &eventsv1.PaymentResult{EventId: "ev-1", Type: eventsv1.PaymentResultType_PAYMENT_SUCCEEDED,
		OrderId: o.GetOrderId(), PaymentId: 7, AmountFen: 3000, OccurredAt: paidAt}
	payment.PublishProto("ev-1", succeeded)
	payment.PublishProto("ev-1", succeeded)
	got := e.eventuallyStatus(t, o.GetOrderId(), orderv1.OrderStatus_PAID)
	if got.GetPaymentId() != 7 || !got.GetPaidAt().AsTime().Equal(paidAt.AsTime()) {
		t.Fatalf("paid order = %v", got)
	}
	// A second payment's success and its full refund leave the order alone: that money is the
	// payment side's to give back, not a refund of this order. Asserted once the consumer has
	// committed both messages, so a refund it wrongly applied would show.
	payment.PublishProto("ev-2", &eventsv1.PaymentResult{EventId: "ev-2", Type: eventsv1.PaymentResultType_PAYMENT_SUCCEEDED,
		OrderId: o.GetOrderId(), PaymentId: 8, AmountFen: 3000})
	payment.PublishProto("ev-3", &eventsv1.PaymentResult{EventId: "ev-3", Type: eventsv1.PaymentResultType_PAYMENT_REFUNDED,
		OrderId: o.GetOrderId(), PaymentId: 8, RefundId: 1, RefundAmountFen: 3000, RefundedTotalFen: 3000, FullRefund: true})
	e.waitProcessed(t, resultsConsumer, "ev-2", "ev-3")
	if got := e.get(t, o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_PAID || got.GetPaymentId() != 7 || got.GetRefundedFen() != 0 {
		t.Fatalf("after a duplicate payment and its refund the order is %v; want PAID by payment 7 with 0 refunded", got)
	}
	// Undecodable: parked, never blocks the queue.
	payment.Publish("junk", "", []byte("not protobuf \xff\xff"))
	payment.PublishProto("ev-4", &eventsv1.PaymentResult{EventId: "ev-4", Type: eventsv1.PaymentResultType_PAYMENT_REFUNDED,
		OrderId: o.GetOrderId(), PaymentId: 7, RefundId: 2, RefundAmountFen: 3000, RefundedTotalFen: 3000, FullRefund: true})
	got = e.eventuallyStatus(t, o.GetOrderId(), orderv1.OrderStatus_REFUNDED)
	if got.GetPaymentId() != 7 || got.GetRefundedFen() != 3000 {
		t.Fatalf("refunded order = %v", got)
	}
	testkit.Eventually(t, eventuallyDeadline, func() bool { return queueLength(t, ch, resultsParkingQ) == 1 },
		"undecodable message not parked")
	if n := e.count(t, "SELECT COUNT(*) FROM processed_messages WHERE message_id = 'ev-1'"); n != 1 {
		t.Fatalf("ev-1 processed %d times", n)
	}

	// A payment that arrived after the cancel: the payment side refunds it, the order shows it.
	c := e.create(t, "u1", "r2", item("mug", 1))
	if _, err := e.client.CancelOrder(context.Background(), &orderv1.CancelOrderRequest{OrderId: c.GetOrderId()}); err != nil {
		t.Fatal(err)
	}
	payment.PublishProto("ev-5", &eventsv1.PaymentResult{EventId: "ev-5", Type: eventsv1.PaymentResultType_PAYMENT_SUCCEEDED,
		OrderId: c.GetOrderId(), PaymentId: 9, AmountFen: 1000})
	payment.PublishProto("ev-6", &eventsv1.PaymentResult{EventId: "ev-6", Type: eventsv1.PaymentResultType_PAYMENT_REFUNDED,
		OrderId: c.GetOrderId(), PaymentId: 9, RefundId: 3, RefundAmountFen: 1000, RefundedTotalFen: 1000, FullRefund: true, Reason: "ORDER_CANCELLED"})
	testkit.Eventually(t, eventuallyDeadline, func() bool { return e.get(t, c.GetOrderId()).GetRefundedFen() == 1000 },
		"cancelled order never showed the refund of the late payment")
	if got := e.get(t, c.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_CANCELLED || got.GetPaymentId() != 9 || e.stock(t, "mug") != 7 {
		t.Fatalf("cancelled order after a late payment = %v, stock %d", got, e.stock(t, "mug"))
	}
}

// No order is cancelled before its deadline: a deadline message that arrives early (another
// instance with a shorter ORDER_PAY_TIMEOUT, a replay) changes nothing.
func TestEarlyDeadlineMessageLeavesTheOrderAlone(t *testing.T) {
	stack := testkit.NewStack(t)
	e := startOn(t, stack, withBroker(stack, "", time.Hour))
	e.addSku(t, "mug", "GOODS", 4500, 10)
	o := e.create(t, "u1", "r1", item("mug", 3))
	ch := testkit.AMQPChannel(t, stack.AdminAMQPURL())
	publish(t, ch, deadlineExchange, "", "early", &eventsv1.OrderPayDeadline{OrderId: o.GetOrderId(), PayDeadline: o.GetPayDeadline()})
	e.waitProcessed(t, deadlineConsumer, "early")
	if got := e.get(t, o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_PENDING_PAYMENT || got.GetCancelledAt() != nil {
		t.Fatalf("an hour before its deadline the order is %v; want PENDING_PAYMENT", got)
	}
	if s := e.stock(t, "mug"); s != 7 {
		t.Fatalf("stock = %d, want 7 (the order still holds its 3)", s)
	}
}

// The deadline consumer and the sweeper reach the same orders at the same moment, several
// copies of each deadline message among them: every order is cancelled once and its stock comes
// back once.
func TestSweeperAndDeadlineConsumerRacingCancelOnce(t *testing.T) {
	stack := testkit.NewStack(t)
	e := startOn(t, stack, withBroker(stack, "", 2*time.Second), func(c *service.Config) {
		c.SweepInterval, c.SweepGrace = 10*time.Millisecond, 0 // the sweeper takes each order the moment it is due
	})
	e.addSku(t, "mug", "GOODS", 100, 1000)
	orders := make([]*orderv1.Order, 20)
	var wg sync.WaitGroup
	for i := range orders {
		// One user each: a single user may hold only ORDER_MAX_PENDING_PER_USER unpaid orders.
		wg.Go(func() { orders[i] = e.create(t, fmt.Sprint("u", i), fmt.Sprint("r", i), item("mug", 2)) }) // close deadlines
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	first := orders[0].GetPayDeadline().AsTime()
	for _, o := range orders {
		if d := o.GetPayDeadline().AsTime(); d.Before(first) {
			first = d
		}
	}
	// As the first order falls due, three copies of every order's deadline message go to the
	// consumer, while the sweeper finds the orders due one after the other; the deadline
	// messages from the delay queue follow.
	time.Sleep(time.Until(first))
	ch := testkit.AMQPChannel(t, stack.AdminAMQPURL())
	var ids []string
	for copyNo := range 3 {
		for _, o := range orders {
			id := fmt.Sprintf("race-%d-%d", o.GetOrderId(), copyNo)
			publish(t, ch, deadlineExchange, "", id, &eventsv1.OrderPayDeadline{OrderId: o.GetOrderId(), PayDeadline: o.GetPayDeadline()})
			ids = append(ids, id)
		}
	}
	for _, o := range orders {
		got := e.eventuallyStatus(t, o.GetOrderId(), orderv1.OrderStatus_CANCELLED)
		if got.GetCancelReason() != "TIMEOUT" || got.GetCancelledAt().AsTime().Before(got.GetPayDeadline().AsTime()) {
			t.Fatalf("order = %v; want TIMEOUT, not before its deadline", got)
		}
		ids = append(ids, fmt.Sprint("order-pay-deadline-", o.GetOrderId()))
	}
	e.waitProcessed(t, deadlineConsumer, ids...)
	if s := e.stock(t, "mug"); s != 1000 {
		t.Fatalf("stock = %d after every order was cancelled, want 1000 (each order's 2 back once)", s)
	}
}
