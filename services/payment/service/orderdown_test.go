package service_test

import (
	"fmt"
	"testing"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

const paymentRefusalsQueue = "paysuite.payment.order-refusals"

// A payment that succeeds while the order service is down is not lost. One door leads the news
// to the order: its PAYMENT_SUCCEEDED outbox row, committed with the success, published to the
// results fanout and waiting in the order's durable queue (no mark-order-paid task is written
// beside it). And one door leads a refusal back: the order's OrderPaymentRefused, committed with
// its consumer's processed-message row, waiting in the payment's durable queue until the payment
// service refunds.
func TestOrderServiceDownWhenPaid(t *testing.T) {
	t.Run("the order's queue alone makes it PAID once it is back, nothing refunded", func(t *testing.T) {
		e := newEnv(t, nil)
		e.run()
		o, p, ev := e.paidWhileOrderServiceDown()
		if n := e.count("SELECT COUNT(*) FROM tasks WHERE kind = 'mark-order-paid'"); n != 0 {
			t.Fatalf("%d mark-order-paid tasks; the PAYMENT_SUCCEEDED row is the one carrier", n)
		}
		e.startOrders()
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		if !e.orderProcessed(ev.GetEventId()) {
			t.Fatalf("order is PAID but its results consumer has not processed %s", ev.GetEventId())
		}
		e.noRefundOf(p)
	})

	t.Run("the order's broker connection cut: the result waits in its queue", func(t *testing.T) {
		e := newEnv(t, nil)
		queueDoor := testkit.NewTCPProxy(t, hostOf(t, e.orderCfg.AMQPURL))
		e.orderCfg.AMQPURL = queueDoor.URL(e.orderCfg.AMQPURL)
		e.run()
		events := listen(t, e.amqpURL)
		o := e.order("goods-sticker-pack", 1)
		p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
		queueDoor.Cut()
		e.buyerPays(p.GetQrCode())
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
		ev := events.succeeded(t, p.GetPaymentId())
		if e.orderProcessed(ev.GetEventId()) {
			t.Fatalf("the results consumer processed %s through a cut broker connection", ev.GetEventId())
		}
		queueDoor.Restore()
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		if !e.orderProcessed(ev.GetEventId()) {
			t.Fatalf("order is PAID but its results consumer has not processed %s", ev.GetEventId())
		}
		e.noRefundOf(p)
	})

	t.Run("a cancelled order's refusal waits for the payment service, which refunds once back", func(t *testing.T) {
		// Without PAYMENT_TARGET the cancel does not close the trade first, so the buyer can pay
		// a cancelled order (the race the close normally prevents).
		e := newEnv(t, func(o *orderConfig) { o.PaymentTarget = "" })
		e.run()
		events := listen(t, e.amqpURL)
		o := e.order("goods-sticker-pack", 1)
		p := e.pay(o, paymentv1.Channel_ALIPAY_QR)
		if _, err := e.orders.CancelOrder(t.Context(), &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()}); err != nil {
			t.Fatal(err)
		}
		e.stopOrd()
		e.buyerPays(p.GetQrCode())
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
		ev := events.succeeded(t, p.GetPaymentId())
		e.stopPay() // gone before the order refuses: the refusal must wait for it
		e.startOrders()
		testkit.Eventually(t, wait, func() bool { return e.orderProcessed(ev.GetEventId()) },
			"the order's consumer never had %s", ev.GetEventId())
		refusal := fmt.Sprintf("order-payment-refused-%d", p.GetPaymentId())
		testkit.Eventually(t, wait, func() bool {
			var n int
			err := e.orderDB.QueryRow("SELECT COUNT(*) FROM outbox_messages WHERE message_id = ? AND published_at IS NOT NULL", refusal).Scan(&n)
			return err == nil && n == 1
		}, "the order's refusal %s was never published", refusal)
		if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ?", p.GetPaymentId()); n != 0 {
			t.Fatalf("%d refunds while the payment service was down", n)
		}
		e.startPayments()
		e.payments = paymentv1.NewPaymentServiceClient(e.stack.Dial(tlsx.Payment, e.cfg.GRPCAddr)) // not one in backoff
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
		if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND auto AND reason = 'ORDER_CANCELLED' AND status = 'SUCCEEDED'", p.GetPaymentId()); n != 1 {
			t.Fatalf("%d ORDER_CANCELLED automatic refunds, want 1", n)
		}
		if got := e.getOrder(o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_CANCELLED {
			t.Fatalf("order is %s, want CANCELLED", got.GetStatus())
		}
	})

	t.Run("a refusal anyone but the order service published is parked, nothing refunded", func(t *testing.T) {
		e := start(t)
		events := listen(t, e.amqpURL)
		o := e.order("goods-sticker-pack", 1)
		p := e.pay(o, paymentv1.Channel_ALIPAY_QR)
		e.buyerPays(p.GetQrCode())
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		events.succeeded(t, p.GetPaymentId())
		testkit.WaitForConsumer(t, e.amqpURL, paymentRefusalsQueue)
		forger := testkit.NewPublisher(t, e.amqpURL, amqpx.PaymentRefusalsExchange) // the admin, not paysuite's order user
		forger.PublishProto("forged-refusal", &eventsv1.OrderPaymentRefused{EventId: "forged-refusal", OrderId: o.GetOrderId(),
			PaymentId: p.GetPaymentId(), AmountFen: p.GetAmountFen(), Reason: "ORDER_CANCELLED"})
		testkit.Eventually(t, wait, func() bool { return forger.Messages(amqpx.ParkingQueue(paymentRefusalsQueue)) == 1 },
			"the forged refusal was not parked")
		e.noRefundOf(p)
	})
}

// paidWhileOrderServiceDown stops the order service, has the buyer pay an order, and returns once
// the payment succeeded and its PAYMENT_SUCCEEDED event is on the fanout.
func (e *env) paidWhileOrderServiceDown() (*orderv1.Order, *paymentv1.Payment, *eventsv1.PaymentResult) {
	e.t.Helper()
	events := listen(e.t, e.amqpURL)
	o := e.order("goods-sticker-pack", 1)
	p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
	e.stopOrd()
	e.buyerPays(p.GetQrCode())
	e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
	return o, p, events.succeeded(e.t, p.GetPaymentId())
}

// noRefundOf checks that the payment that paid the order kept its money: no refund started.
func (e *env) noRefundOf(p *paymentv1.Payment) {
	e.t.Helper()
	if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ?", p.GetPaymentId()); n != 0 {
		e.t.Fatalf("%d refunds of the payment that paid the order, want none", n)
	}
	if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_SUCCEEDED || got.GetRefundedFen() != 0 {
		e.t.Fatalf("payment = %v, want SUCCEEDED with nothing refunded", got)
	}
}

// succeeded waits for the payment's PAYMENT_SUCCEEDED on the fanout and returns it.
func (r *results) succeeded(t *testing.T, paymentID int64) *eventsv1.PaymentResult {
	t.Helper()
	var ev *eventsv1.PaymentResult
	testkit.Eventually(t, wait, func() bool {
		list, _, _ := r.of(paymentID)
		for _, m := range list {
			if m.GetType() == eventsv1.PaymentResultType_PAYMENT_SUCCEEDED {
				ev = m
				return true
			}
		}
		return false
	}, "no PAYMENT_SUCCEEDED for payment %d on the fanout", paymentID)
	return ev
}
