package service_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
)

// Pay exactly at the deadline: the buyer pays moments before the provider trade expires, the
// notify is held back until well after the order's deadline, and the order's deadline consumer
// and sweeper run on a real broker. Whatever wins each race, no order may end CANCELLED while
// its money is kept, and none may stay PENDING_PAYMENT.
func TestPayingAtTheDeadlineNeverKeepsMoneyOfACancelledOrder(t *testing.T) {
	const (
		payTimeout   = 4 * time.Second
		tradeTimeout = 3 * time.Second // room to open all six trades before the first expires
		notifyDelay  = 4 * time.Second // the notify arrives after the deadline has been handled
	)
	e := startWith(t, func(o *orderConfig) {
		o.PayTimeout, o.SweepInterval, o.SweepGrace = payTimeout, 500*time.Millisecond, time.Second
	}, func(c *service.Config) { c.OrderPayTimeout, c.ProviderTradeTimeout = payTimeout, tradeTimeout })
	events := listen(t, e.amqpURL)
	e.faults(map[string]int{"delayNotifyMs": int(notifyDelay / time.Millisecond)})

	// Both channels, paid a little before, just before and at the very edge of the trade's expiry.
	type attempt struct {
		order   *orderv1.Order
		payment *paymentv1.Payment
		before  time.Duration
		code    int // the sandbox's answer to the buyer
		err     error
	}
	var list []*attempt
	for _, ch := range []paymentv1.Channel{paymentv1.Channel_ALIPAY_QR, paymentv1.Channel_WECHAT_NATIVE} {
		for _, before := range []time.Duration{400 * time.Millisecond, 120 * time.Millisecond, 20 * time.Millisecond} {
			o := e.order("goods-sticker-pack", 1)
			list = append(list, &attempt{order: o, payment: e.pay(o, ch), before: before})
		}
	}
	var wg sync.WaitGroup
	for _, a := range list {
		wg.Go(func() {
			time.Sleep(time.Until(a.payment.GetExpireAt().AsTime().Add(-a.before)))
			a.code, a.err = buyerTriesToPay(e.sandbox.URL, a.payment.GetQrCode())
		})
	}
	wg.Wait()
	paid := 0
	for _, a := range list {
		switch {
		case a.err != nil:
			t.Fatalf("%s buyer %s before expiry: %v", a.payment.GetChannel(), a.before, a.err)
		case a.code == http.StatusOK:
			paid++
		case a.code != http.StatusConflict:
			t.Fatalf("%s buyer %s before expiry: sandbox answered HTTP %d, want 200 (paid) or 409 (expired)", a.payment.GetChannel(), a.before, a.code)
		}
	}
	// A 200 means the buyer paid within `before` of the expiry (a late wake-up only moves the
	// attempt closer to it). With nobody paid the race under test never happened.
	if paid == 0 {
		t.Fatal("no buyer managed to pay in the last 400 ms before the trade expired; nothing was tested")
	}

	settled := func(a *attempt) (bool, string) {
		o := e.getOrder(a.order.GetOrderId())
		p := e.payment(a.payment.GetPaymentId())
		switch {
		case o.GetStatus() == orderv1.OrderStatus_PAID && p.GetStatus() == paymentv1.PaymentStatus_SUCCEEDED &&
			o.GetPaymentId() == p.GetPaymentId():
			return true, "paid"
		case o.GetStatus() == orderv1.OrderStatus_CANCELLED && p.GetStatus() == paymentv1.PaymentStatus_CLOSED:
			return true, "cancelled, never paid"
		case o.GetStatus() == orderv1.OrderStatus_CANCELLED && p.GetStatus() == paymentv1.PaymentStatus_REFUNDED &&
			p.GetRefundedFen() == p.GetAmountFen():
			return true, "cancelled, refunded"
		}
		return false, fmt.Sprintf("order %s, payment %s (refunded %d of %d)", o.GetStatus(), p.GetStatus(), p.GetRefundedFen(), p.GetAmountFen())
	}
	for _, a := range list {
		name := fmt.Sprintf("%s paid %s before expiry (sandbox HTTP %d)", a.payment.GetChannel(), a.before, a.code)
		var last string
		testkit.Eventually(t, 60*time.Second, func() bool {
			ok, state := settled(a)
			last = state
			// Hold the verdict until the delayed notify of a paid trade has come in too.
			return ok && (a.code != http.StatusOK || e.count("SELECT COUNT(*) FROM notify_log WHERE out_trade_no = ?", a.payment.GetOutTradeNo()) > 0)
		}, "%s: never settled; last %v", name, testkit.Lazy(func() any { return last }))
		ok, state := settled(a)
		if !ok {
			t.Fatalf("%s: after its late notify: %s", name, state)
		}
		if a.code == http.StatusOK && state == "cancelled, never paid" {
			t.Fatalf("%s: the sandbox took the buyer's money but the payment is CLOSED and the order CANCELLED", name)
		}
		if state == "cancelled, refunded" {
			pid := a.payment.GetPaymentId()
			if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND auto AND status = 'SUCCEEDED'", pid); n != 1 {
				t.Fatalf("%s: %d succeeded automatic refunds, want 1", name, n)
			}
			testkit.Eventually(t, wait, func() bool {
				return events.count(pid, eventsv1.PaymentResultType_PAYMENT_REFUNDED) == 1
			}, "%s: no PAYMENT_REFUNDED event", name)
		}
		t.Logf("%s: %s", name, state)
	}
}

// buyerTriesToPay pays a QR at the sandbox from any goroutine; 200 paid, 409 closed or expired.
// A transport error is the test's failure, never "not paid".
func buyerTriesToPay(sandboxURL, qr string) (int, error) {
	b, err := json.Marshal(map[string]string{"qrCode": qr})
	if err != nil {
		return 0, err
	}
	resp, err := http.Post(sandboxURL+"/sandbox/pay", "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
