package service_test

import (
	"context"
	"testing"

	"github.com/paysuite/paysuite/pkg/testkit"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

func TestLostAndDuplicatedNotifiesRefundsAndDuplicatePayments(t *testing.T) {
	e := start(t) // PAYMENT_POLL_SCALE 0.01: the poll schedule runs in tens of milliseconds
	events := listen(t, e.amqpURL)
	ctx := context.Background()

	t.Run("dropped notify: polling finds the payment", func(t *testing.T) {
		e := e.in(t)
		o := e.order("goods-sticker-pack", 1)
		p := e.pay(o, paymentv1.Channel_ALIPAY_QR)
		e.faults(map[string]int{"dropNotifies": 1})
		e.buyerPays(p.GetQrCode())
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		if n := e.notifies(p.GetOutTradeNo()); len(n) != 0 {
			t.Fatalf("no notify was sent, yet the log has %v", n)
		}
	})

	t.Run("duplicated notifies: one state change, one event", func(t *testing.T) {
		e := e.in(t)
		o := e.order("goods-sticker-pack", 1)
		p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
		e.faults(map[string]int{"duplicateNotifies": 1})
		e.buyerPays(p.GetQrCode())
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
		testkit.Eventually(t, wait, func() bool {
			n := e.notifies(p.GetOutTradeNo())
			return n["ACCEPTED"]+n["DUPLICATE"] >= 2
		}, "the duplicated notify never arrived twice: %v", testkit.Lazy(func() any { return e.notifies(p.GetOutTradeNo()) }))
		if n := e.notifies(p.GetOutTradeNo()); n["ACCEPTED"] != 1 {
			t.Fatalf("notify log %v, want exactly one ACCEPTED", n)
		}
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		// Quiet: both copies answered, the order told, the polling ended, the outbox sent.
		e.waitQuiet(p.GetPaymentId())
		if n := e.outboxCount(p.GetPaymentId(), eventsv1.PaymentResultType_PAYMENT_SUCCEEDED); n != 1 {
			t.Fatalf("%d PAYMENT_SUCCEEDED rows in the outbox for one payment, want 1", n)
		}
		testkit.Eventually(t, wait, func() bool {
			return events.count(p.GetPaymentId(), eventsv1.PaymentResultType_PAYMENT_SUCCEEDED) == 1
		}, "no PAYMENT_SUCCEEDED event")
		list, ids, hdrs := events.of(p.GetPaymentId())
		m := list[0]
		if len(list) != 1 || ids[0] != m.GetEventId() || hdrs[0]["order_id"] != o.GetOrderId() || m.GetOrderId() != o.GetOrderId() ||
			m.GetAmountFen() != o.GetTotalFen() || m.GetUserId() != o.GetUserId() || m.GetProviderTradeNo() == "" ||
			m.GetChannel() != paymentv1.Channel_WECHAT_NATIVE || len(m.GetItems()) != 1 ||
			m.GetItems()[0].GetKind() != orderv1.SkuKind_GOODS || m.GetItems()[0].GetSkuId() != "goods-sticker-pack" {
			t.Fatalf("events %v (message ids %v, headers %v) are not the one event of payment %d of order %v", list, ids, hdrs, p.GetPaymentId(), o)
		}
	})

	t.Run("refund part, then the rest; over-refund and replays change nothing", func(t *testing.T) {
		e := e.in(t)
		o := e.order("goods-hoodie", 1) // 168.00
		p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
		e.buyerPays(p.GetQrCode())
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		total := p.GetAmountFen()

		first, err := e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(), AmountFen: 3000, RequestId: "rf-1", Reason: "size"})
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(), AmountFen: 3000, RequestId: "rf-1", Reason: "size"})
		if err != nil || again.GetRefundId() != first.GetRefundId() {
			t.Fatalf("same request id again = %v, %v; want refund %d", again, err, first.GetRefundId())
		}
		testkit.Eventually(t, wait, func() bool {
			r, err := e.payments.GetRefund(ctx, &paymentv1.GetRefundRequest{RefundId: first.GetRefundId()})
			return err == nil && r.GetStatus() == paymentv1.RefundStatus_REFUND_SUCCEEDED
		}, "partial refund never succeeded")
		testkit.Eventually(t, wait, func() bool {
			o := e.getOrder(o.GetOrderId())
			return o.GetStatus() == orderv1.OrderStatus_PAID && o.GetRefundedFen() == 3000
		}, "order does not show the partial refund: %v", testkit.Lazy(func() any { return e.getOrder(o.GetOrderId()) }))
		if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_SUCCEEDED || got.GetRefundedFen() != 3000 {
			t.Fatalf("after a partial refund the payment is %s with %d refunded", got.GetStatus(), got.GetRefundedFen())
		}

		refunds := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ?", p.GetPaymentId())
		_, err = e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(), AmountFen: total - 3000 + 1, RequestId: "rf-over"})
		wantCode(t, err, "FailedPrecondition")
		_, err = e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(), AmountFen: 0, RequestId: "rf-zero"})
		wantCode(t, err, "InvalidArgument")
		if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ?", p.GetPaymentId()); n != refunds {
			t.Fatalf("refused refunds left rows: %d, was %d", n, refunds)
		}
		if got := e.payment(p.GetPaymentId()); got.GetRefundedFen() != 3000 {
			t.Fatalf("refused refunds changed refunded to %d", got.GetRefundedFen())
		}

		rest, err := e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(), AmountFen: total - 3000, RequestId: "rf-2"})
		if err != nil {
			t.Fatal(err)
		}
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_REFUNDED)
		testkit.Eventually(t, wait, func() bool {
			return events.count(p.GetPaymentId(), eventsv1.PaymentResultType_PAYMENT_REFUNDED) == 2
		}, "want two PAYMENT_REFUNDED events")
		list, _, _ := events.of(p.GetPaymentId())
		last := list[len(list)-1]
		if last.GetRefundId() != rest.GetRefundId() || !last.GetFullRefund() || last.GetRefundedTotalFen() != total {
			t.Fatalf("last event %v, want the full refund %d", last, rest.GetRefundId())
		}
	})

	t.Run("a second successful attempt is refunded automatically", func(t *testing.T) {
		e := e.in(t)
		o := e.order("course-payments-101", 1)
		ali := e.pay(o, paymentv1.Channel_ALIPAY_QR)
		wx := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
		e.buyerPays(ali.GetQrCode())
		e.buyerPays(wx.GetQrCode())
		order := e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		kept, dup := ali, wx
		if order.GetPaymentId() == wx.GetPaymentId() {
			kept, dup = wx, ali
		}
		e.waitPaymentStatus(dup.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
		if got := e.payment(kept.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_SUCCEEDED || got.GetRefundedFen() != 0 {
			t.Fatalf("the payment the order kept is %v", got)
		}
		if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND auto AND reason = 'DUPLICATE_PAYMENT' AND status = 'SUCCEEDED'", dup.GetPaymentId()); n != 1 {
			t.Fatalf("%d recorded DUPLICATE_PAYMENT refunds, want 1", n)
		}
		var refundEvent *eventsv1.PaymentResult
		testkit.Eventually(t, wait, func() bool {
			list, _, _ := events.of(dup.GetPaymentId())
			for _, m := range list {
				if m.GetType() == eventsv1.PaymentResultType_PAYMENT_REFUNDED && m.GetReason() == "DUPLICATE_PAYMENT" && m.GetFullRefund() {
					refundEvent = m
					return true
				}
			}
			return false
		}, "no DUPLICATE_PAYMENT refund event")
		// The order service follows the fanout too: once it has consumed the duplicate's refund,
		// that refund must not have touched the order.
		testkit.Eventually(t, wait, func() bool { return e.orderProcessed(refundEvent.GetEventId()) },
			"the order service never consumed the refund event %s", refundEvent.GetEventId())
		if got := e.getOrder(o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_PAID || got.GetPaymentId() != kept.GetPaymentId() || got.GetRefundedFen() != 0 {
			t.Fatalf("the duplicate's refund touched the order: %v", got)
		}
	})
}
