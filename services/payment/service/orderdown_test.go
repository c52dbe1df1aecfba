package service_test

import (
	"testing"

	"github.com/paysuite/paysuite/pkg/testkit"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

// A payment that succeeds while the order service is down is not lost. Two doors lead the news
// to the order once it is back: the durable mark-order-paid task (a direct gRPC call) and the
// order's durable queue on the results fanout. Each case closes one door with a TCP proxy cut, so
// the other alone must make the order PAID; no refund may come of it.
func TestOrderServiceDownWhenPaid(t *testing.T) {
	t.Run("the queue alone", func(t *testing.T) {
		e, taskDoor, _ := startWithDoors(t)
		o, p, ev := e.paidWhileOrderServiceDown()
		taskDoor.Cut()
		e.startOrders()
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		if !e.orderProcessed(ev.GetEventId()) {
			t.Fatalf("order is PAID but its results consumer has not processed %s", ev.GetEventId())
		}
		if n := e.count("SELECT COUNT(*) FROM tasks WHERE kind = 'mark-order-paid' AND ref_id = ?", p.GetPaymentId()); n != 1 {
			t.Fatalf("%d mark-order-paid tasks while their door is shut, want the 1 still failing", n)
		}
		taskDoor.Restore()
		e.waitMarkPaidDone(p)
	})

	t.Run("the task alone", func(t *testing.T) {
		e, _, queueDoor := startWithDoors(t)
		o, p, ev := e.paidWhileOrderServiceDown() // ev waits in the order's durable queue
		queueDoor.Cut()
		e.startOrders()
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		if e.orderProcessed(ev.GetEventId()) {
			t.Fatalf("the results consumer processed %s through a cut broker connection", ev.GetEventId())
		}
		e.waitMarkPaidDone(p)
		queueDoor.Restore()
		testkit.Eventually(t, wait, func() bool { return e.orderProcessed(ev.GetEventId()) },
			"the order's queue never delivered %s once the broker was back", ev.GetEventId())
		if got := e.getOrder(o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_PAID || got.GetPaymentId() != p.GetPaymentId() {
			t.Fatalf("after the second door opened the order is %v", got)
		}
	})
}

// startWithDoors is start with the payment service's calls to the order service (the task's
// door) and the order service's broker connection (the queue's door) each through a TCP proxy.
func startWithDoors(t *testing.T) (e *env, taskDoor, queueDoor *testkit.TCPProxy) {
	t.Helper()
	e = newEnv(t, nil)
	taskDoor = testkit.NewTCPProxy(t, e.orderCfg.GRPCAddr)
	e.cfg.OrderTarget = taskDoor.Addr()
	queueDoor = testkit.NewTCPProxy(t, hostOf(t, e.orderCfg.AMQPURL))
	e.orderCfg.AMQPURL = queueDoor.URL(e.orderCfg.AMQPURL)
	e.run()
	return e, taskDoor, queueDoor
}

// paidWhileOrderServiceDown stops the order service, has the buyer pay an order, and returns once
// the payment succeeded, its mark-order-paid task has failed at least once and its
// PAYMENT_SUCCEEDED event is on the fanout.
func (e *env) paidWhileOrderServiceDown() (*orderv1.Order, *paymentv1.Payment, *eventsv1.PaymentResult) {
	e.t.Helper()
	events := listen(e.t, e.amqpURL)
	o := e.order("goods-sticker-pack", 1)
	p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
	e.stopOrd()
	e.buyerPays(p.GetQrCode())
	e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
	testkit.Eventually(e.t, wait, func() bool {
		return e.count("SELECT COUNT(*) FROM tasks WHERE kind = 'mark-order-paid' AND attempt >= 1") == 1
	}, "the mark-order-paid task never tried")
	return o, p, events.succeeded(e.t, p.GetPaymentId())
}

// waitMarkPaidDone waits until the mark-order-paid task has finished and checks that the order
// took the payment: no automatic refund was started for it.
func (e *env) waitMarkPaidDone(p *paymentv1.Payment) {
	e.t.Helper()
	testkit.Eventually(e.t, wait, func() bool {
		return e.count("SELECT COUNT(*) FROM tasks WHERE kind = 'mark-order-paid' AND ref_id = ?", p.GetPaymentId()) == 0
	}, "the mark-order-paid task never finished")
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
