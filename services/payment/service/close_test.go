package service_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/paysuite/paysuite/pkg/testkit"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
)

func TestClosePayments(t *testing.T) {
	// Slow polling, so only ClosePayments can find out about the unnotified payment.
	e := start(t, func(c *service.Config) { c.PollScale = 100 })
	events := listen(t, e.amqpURL)
	ctx := context.Background()

	t.Run("unpaid, scanned attempts are closed and can no longer be paid", func(t *testing.T) {
		e := e.in(t)
		o := e.order("goods-sticker-pack", 1)
		ali := e.pay(o, paymentv1.Channel_ALIPAY_QR)
		wx := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
		e.buyerScans(ali.GetQrCode()) // an unscanned Alipay QR outlives a close (TestClosedUnscannedAlipayTradeIsStillWatched)
		res, err := e.payments.ClosePayments(ctx, &paymentv1.ClosePaymentsRequest{OrderId: o.GetOrderId()})
		if err != nil || len(res.GetClosed()) != 2 || res.GetPaidPayment() != nil {
			t.Fatalf("ClosePayments = %v, %v; want both attempts closed, none paid", res, err)
		}
		for _, p := range []*paymentv1.Payment{ali, wx} {
			if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_CLOSED {
				t.Fatalf("%s attempt is %s", p.GetChannel(), got.GetStatus())
			}
			// Downstream learns of the close from the fanout.
			testkit.Eventually(t, wait, func() bool {
				list, _, _ := events.of(p.GetPaymentId())
				return len(list) == 1 && list[0].GetType() == eventsv1.PaymentResultType_PAYMENT_CLOSED &&
					list[0].GetReason() == "ORDER_CLOSING" && list[0].GetOrderId() == o.GetOrderId()
			}, "no PAYMENT_CLOSED (ORDER_CLOSING) event for the %s attempt: %v", p.GetChannel(),
				testkit.Lazy(func() any { list, _, _ := events.of(p.GetPaymentId()); return list }))
			if code := e.sandboxDo(http.MethodPost, "/sandbox/pay", map[string]string{"qrCode": p.GetQrCode()}); code != http.StatusConflict {
				t.Fatalf("paying the closed %s trade: HTTP %d, want 409", p.GetChannel(), code)
			}
		}
		// A new attempt after a close is a new row with a new out_trade_no.
		fresh := e.pay(o, paymentv1.Channel_ALIPAY_QR)
		if fresh.GetPaymentId() == ali.GetPaymentId() || fresh.GetOutTradeNo() == ali.GetOutTradeNo() {
			t.Fatalf("new attempt reused the closed one: %v", fresh)
		}
	})

	t.Run("a paid but unnotified attempt is reported paid", func(t *testing.T) {
		e := e.in(t)
		o := e.order("goods-sticker-pack", 2)
		p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
		e.faults(map[string]int{"dropNotifies": 1})
		e.buyerPays(p.GetQrCode())
		res, err := e.payments.ClosePayments(ctx, &paymentv1.ClosePaymentsRequest{OrderId: o.GetOrderId()})
		if err != nil || res.GetPaidPayment().GetPaymentId() != p.GetPaymentId() || len(res.GetClosed()) != 0 {
			t.Fatalf("ClosePayments = %v, %v; want payment %d reported paid", res, err, p.GetPaymentId())
		}
		if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_SUCCEEDED {
			t.Fatalf("payment is %s, want SUCCEEDED", got.GetStatus())
		}
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
	})

	t.Run("bad requests", func(t *testing.T) {
		e := e.in(t)
		_, err := e.payments.CreatePayment(ctx, &paymentv1.CreatePaymentRequest{OrderId: 1, Channel: paymentv1.Channel_CHANNEL_UNSPECIFIED})
		wantCode(t, err, "InvalidArgument")
		_, err = e.payments.CreatePayment(ctx, &paymentv1.CreatePaymentRequest{OrderId: 12345, Channel: paymentv1.Channel_ALIPAY_QR})
		wantCode(t, err, "NotFound")
		_, err = e.payments.GetPayment(ctx, &paymentv1.GetPaymentRequest{PaymentId: 12345})
		wantCode(t, err, "NotFound")
		_, err = e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: 12345, AmountFen: 1, RequestId: "x"})
		wantCode(t, err, "NotFound")
	})
}
