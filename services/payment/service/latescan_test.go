package service_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
)

// Alipay gap: a close of an unscanned precreate trade closes nothing at the real gateway (nor at
// the sandbox, which does the same by default), so the attempt is watched until its expiry (+ a
// margin) instead of being forgotten at the close.
func TestClosedUnscannedAlipayTradeIsStillWatched(t *testing.T) {
	e := start(t)
	ctx := t.Context()

	cancelWithAlipayAttempt := func(e *env) (*orderv1.Order, *paymentv1.Payment) {
		t := e.t
		o := e.order("goods-sticker-pack", 1)
		p := e.pay(o, paymentv1.Channel_ALIPAY_QR) // not scanned: the cancel's close is answered TRADE_NOT_EXIST
		if got, err := e.orders.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()}); err != nil || got.GetStatus() != orderv1.OrderStatus_CANCELLED {
			t.Fatalf("cancel = %v, %v", got, err)
		}
		if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_CLOSED {
			t.Fatalf("after the cancel the attempt is %s, want CLOSED", got.GetStatus())
		}
		return o, p
	}

	t.Run("scanned and paid after the close, notify lost: found by polling and refunded", func(t *testing.T) {
		e := e.in(t)
		o, p := cancelWithAlipayAttempt(e)
		e.faults(map[string]int{"dropNotifies": 1})
		e.buyerPays(p.GetQrCode()) // the real gateway still takes the money
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
		if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND auto AND reason = 'ORDER_CANCELLED' AND status = 'SUCCEEDED'", p.GetPaymentId()); n != 1 {
			t.Fatalf("%d ORDER_CANCELLED refunds, want 1", n)
		}
		if n := e.notifies(p.GetOutTradeNo()); len(n) != 0 {
			t.Fatalf("no notify was sent, yet the log has %v", n)
		}
		testkit.Eventually(t, wait, func() bool { return e.getOrder(o.GetOrderId()).GetRefundedFen() == o.GetTotalFen() },
			"the cancelled order never showed the refund")
		if got := e.getOrder(o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_CANCELLED {
			t.Fatalf("order is %s, want CANCELLED", got.GetStatus())
		}
	})

	t.Run("scanned after the close but not paid yet: closed for real", func(t *testing.T) {
		e := e.in(t)
		_, p := cancelWithAlipayAttempt(e)
		e.buyerScans(p.GetQrCode()) // the trade now exists at the gateway
		testkit.Eventually(t, wait, func() bool {
			return e.count("SELECT COUNT(*) FROM tasks WHERE kind = 'poll-trade' AND ref_id = ?", p.GetPaymentId()) == 0
		}, "the watch never confirmed the close")
		if code, err := buyerTriesToPay(e.sandbox.URL, p.GetQrCode()); err != nil || code != http.StatusConflict {
			t.Fatalf("paying the scanned QR of a cancelled order: HTTP %d (%v), want 409", code, err)
		}
		if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_CLOSED {
			t.Fatalf("payment is %s, want CLOSED", got.GetStatus())
		}
	})
}

// The watch of a closed attempt ends once the trade has expired at the provider plus a margin
// (a payment in flight at the expiry, clock skew): no attempt is polled forever, and none is
// forgotten while the buyer could still pay it.
func TestWatchOfAClosedAttemptEndsAfterItsExpiry(t *testing.T) {
	e := start(t, func(c *service.Config) {
		c.OrderPayTimeout, c.ProviderTradeTimeout = time.Hour, 2*time.Second
	})
	o := e.order("goods-sticker-pack", 1)
	p := e.pay(o, paymentv1.Channel_ALIPAY_QR) // never scanned: the expiry close is answered TRADE_NOT_EXIST
	e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_CLOSED)
	var ended time.Time // when the poll task was first seen gone: at or after the watch ended
	testkit.Eventually(t, wait, func() bool {
		if e.count("SELECT COUNT(*) FROM tasks WHERE kind = 'poll-trade' AND ref_id = ?", p.GetPaymentId()) > 0 {
			return false
		}
		ended = time.Now()
		return true
	}, "the closed attempt is still polled long after its expiry")
	// The payment service watches until expiry + 2 minutes × PAYMENT_POLL_SCALE (app.lateScanMargin).
	// Only a lower bound: a loaded machine ends the watch later, never earlier.
	until := p.GetExpireAt().AsTime().Add(time.Duration(float64(2*time.Minute) * e.cfg.PollScale))
	if ended.Before(until) {
		t.Fatalf("the watch ended by %s, before the trade's expiry %s plus the margin (%s)",
			ended.Format(time.RFC3339Nano), p.GetExpireAt().AsTime().Format(time.RFC3339Nano), until.Format(time.RFC3339Nano))
	}
}
