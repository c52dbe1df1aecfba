package service_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/testkit"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
)

// Notifies at the edges of the protocols, each the only way the payment service can learn what
// it says: polling is slowed to minutes (PAYMENT_POLL_SCALE 100).
func TestNotifyEdgeCases(t *testing.T) {
	e := start(t, func(c *service.Config) { c.PollScale = 100 })
	events := listen(t, e.amqpURL)
	t.Run("WeChat timestamp outside the 5-minute window", func(t *testing.T) { wechatNotifyOutsideTheTimeWindowIsRefused(t, e.in(t)) })
	t.Run("Alipay TRADE_FINISHED and TRADE_CLOSED", func(t *testing.T) { alipayTradeFinishedPaysAndTradeClosedChangesNothing(t, e.in(t)) })
	t.Run("a notify for a CLOSED payment", func(t *testing.T) { notifyForAClosedPaymentIsRecordedAndRefunded(t, e.in(t), events) })
}

// WeChat signs the notify's timestamp, and a notify stamped more than five minutes from our
// clock is a replay or a forgery however good its signature: refused (400, the provider retries),
// logged, nothing changed. The sandbox stamps the first attempt off by n seconds and signs it with
// the real WeChat Pay key; its retry, stamped now, is the one that records the payment.
func wechatNotifyOutsideTheTimeWindowIsRefused(t *testing.T, e *env) {
	for _, skew := range []int{301, -301} {
		o := e.order("goods-sticker-pack", 1)
		p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
		refusedBefore := e.skewRefusals()
		e.faults(map[string]int{"notifyTimestampSkewSeconds": skew})
		e.buyerPays(p.GetQrCode())
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		if n := e.skewRefusals() - refusedBefore; n != 1 {
			t.Fatalf("skew %+ds: %d notifies refused for their timestamp, want the first attempt", skew, n)
		}
		var refusedID, acceptedID int64
		if err := e.db.QueryRow("SELECT MAX(id) FROM notify_log WHERE outcome = 'REFUSED' AND refuse_reason LIKE '%Wechatpay-Timestamp off by%'").Scan(&refusedID); err != nil {
			t.Fatal(err)
		}
		if err := e.db.QueryRow("SELECT id FROM notify_log WHERE out_trade_no = ? AND outcome = 'ACCEPTED'", p.GetOutTradeNo()).Scan(&acceptedID); err != nil {
			t.Fatalf("no accepted notify for %s: %v", p.GetOutTradeNo(), err)
		}
		if refusedID > acceptedID {
			t.Fatalf("skew %+ds: the refused notify (log id %d) came after the accepted one (%d)", skew, refusedID, acceptedID)
		}
	}
}

// skewRefusals counts notifies refused for a timestamp outside the window.
func (e *env) skewRefusals() int {
	e.t.Helper()
	return e.count("SELECT COUNT(*) FROM notify_log WHERE channel = 'WECHAT_NATIVE' AND outcome = 'REFUSED' AND refuse_reason LIKE '%Wechatpay-Timestamp off by%'")
}

// Alipay's TRADE_FINISHED (paid, no longer refundable) is a payment like TRADE_SUCCESS;
// TRADE_CLOSED, before or after the payment, changes nothing: the payment service closes trades
// itself and a paid trade's money stays recorded. Both are answered "success" (Alipay stops
// sending) and kept in the notify log.
func alipayTradeFinishedPaysAndTradeClosedChangesNothing(t *testing.T, e *env) {
	alipayKey, _ := e.platformSecrets()
	key, app := parseKey(t, alipayKey), e.creds.Alipay.AppID
	const form = "application/x-www-form-urlencoded"
	o := e.order("goods-gopher-mug", 1)
	p := e.pay(o, paymentv1.Channel_ALIPAY_QR)
	yuan := money.Fen(p.GetAmountFen()).Yuan()

	send := func(notifyID, status string) {
		t.Helper()
		if code, body := e.postNotify("/notify/alipay", form, alipayStatusNotify(t, key, app, p.GetOutTradeNo(), yuan, notifyID, status), nil); code != http.StatusOK || body != "success" {
			t.Fatalf("%s: answered %d %q, want success", status, code, body)
		}
	}
	send("n-closed-before", "TRADE_CLOSED")
	if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_WAITING {
		t.Fatalf("after TRADE_CLOSED the payment is %s, want WAITING (we close our trades ourselves)", got.GetStatus())
	}
	send("n-finished", "TRADE_FINISHED")
	if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_SUCCEEDED || got.GetProviderTradeNo() == "" {
		t.Fatalf("after TRADE_FINISHED the payment is %v, want SUCCEEDED", got)
	}
	e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
	send("n-closed-after", "TRADE_CLOSED")
	if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_SUCCEEDED || got.GetRefundedFen() != 0 {
		t.Fatalf("after a TRADE_CLOSED for the paid trade the payment is %v, want SUCCEEDED", got)
	}
	if got := e.getOrder(o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_PAID {
		t.Fatalf("after a TRADE_CLOSED for the paid trade the order is %s, want PAID", got.GetStatus())
	}
	if n := e.notifies(p.GetOutTradeNo()); n["IGNORED"] != 2 || n["ACCEPTED"] != 1 || len(n) != 2 {
		t.Fatalf("notify log %v, want TRADE_FINISHED ACCEPTED and both TRADE_CLOSED IGNORED", n)
	}
	if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ?", p.GetPaymentId()); n != 0 {
		t.Fatalf("%d refunds of the payment, want none", n)
	}
}

// A notify (not a poll) that a payment we had CLOSED was paid: closing an unscanned Alipay QR
// closes nothing at the provider, so the buyer can still pay it after the order was cancelled.
// The notify records the money (CLOSED → SUCCEEDED) and the order's refusal refunds it.
func notifyForAClosedPaymentIsRecordedAndRefunded(t *testing.T, e *env, events *results) {
	o := e.order("goods-sticker-pack", 1)
	p := e.pay(o, paymentv1.Channel_ALIPAY_QR)
	if _, err := e.orders.CancelOrder(t.Context(), &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()}); err != nil {
		t.Fatal(err)
	}
	if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_CLOSED {
		t.Fatalf("after the cancel the attempt is %s, want CLOSED", got.GetStatus())
	}
	e.buyerPays(p.GetQrCode())
	e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
	if n := e.notifies(p.GetOutTradeNo()); n["ACCEPTED"] != 1 {
		t.Fatalf("notify log %v, want the payment's notify ACCEPTED", n)
	}
	if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND auto AND reason = 'ORDER_CANCELLED' AND status = 'SUCCEEDED'", p.GetPaymentId()); n != 1 {
		t.Fatalf("%d ORDER_CANCELLED refunds, want 1", n)
	}
	testkit.Eventually(t, wait, func() bool { return e.getOrder(o.GetOrderId()).GetRefundedFen() == o.GetTotalFen() },
		"the cancelled order never showed the refund")
	if got := e.getOrder(o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_CANCELLED {
		t.Fatalf("order is %s, want CANCELLED", got.GetStatus())
	}
	events.succeeded(t, p.GetPaymentId())
	testkit.Eventually(t, wait, func() bool { return events.count(p.GetPaymentId(), eventsv1.PaymentResultType_PAYMENT_REFUNDED) == 1 },
		"the refund of the money that came for a cancelled order was not published")
}

// Poll tasks that fall due while the payment service is down run when it is back: a payment
// whose notify was lost is still found.
func TestPaymentServiceRestartResumesDuePolls(t *testing.T) {
	e := start(t)
	var orders []*orderv1.Order
	var payments []*paymentv1.Payment
	for _, ch := range []paymentv1.Channel{paymentv1.Channel_ALIPAY_QR, paymentv1.Channel_WECHAT_NATIVE} {
		o := e.order("goods-sticker-pack", 1)
		orders, payments = append(orders, o), append(payments, e.pay(o, ch))
	}
	e.stopPay()
	e.faults(map[string]int{"dropNotifies": len(payments)}) // only polling can find these payments
	for _, p := range payments {
		e.buyerPays(p.GetQrCode())
	}
	testkit.Eventually(t, wait, func() bool {
		rows, err := e.db.Query("SELECT next_run_at FROM tasks WHERE kind = 'poll-trade'")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		due := 0
		for rows.Next() {
			var at time.Time
			if err := rows.Scan(&at); err != nil {
				t.Fatal(err)
			}
			if at.Before(time.Now()) {
				due++
			}
		}
		return due == len(payments)
	}, "the poll tasks never fell due")
	e.startPayments()
	for i, p := range payments {
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
		e.waitOrderStatus(orders[i].GetOrderId(), orderv1.OrderStatus_PAID)
		if n := e.notifies(p.GetOutTradeNo()); len(n) != 0 {
			t.Fatalf("%s: no notify was sent, yet the log has %v", p.GetChannel(), n)
		}
	}
}
