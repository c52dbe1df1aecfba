package service_test

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"testing"

	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
)

func TestPayAnOrderThroughEachChannel(t *testing.T) {
	// This test is about the notify door (one ACCEPTED notify): keep the poller out of its way,
	// or a poll that finds the trade paid first turns the notify into a DUPLICATE.
	e := start(t, func(c *service.Config) { c.PollScale = 100 })
	for _, ch := range []paymentv1.Channel{paymentv1.Channel_ALIPAY_QR, paymentv1.Channel_WECHAT_NATIVE} {
		t.Run(ch.String(), func(t *testing.T) {
			e := e.in(t)
			o := e.order("goods-sticker-pack", 3)
			p := e.pay(o, ch)
			if p.GetStatus() != paymentv1.PaymentStatus_WAITING || p.GetAmountFen() != o.GetTotalFen() || p.GetQrCode() == "" {
				t.Fatalf("created payment %v for order total %d", p, o.GetTotalFen())
			}
			img, err := base64.StdEncoding.DecodeString(p.GetQrPngBase64())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := png.Decode(bytes.NewReader(img)); err != nil {
				t.Fatalf("qrPngBase64 is not a PNG: %v", err)
			}
			if !p.GetExpireAt().AsTime().Before(o.GetPayDeadline().AsTime()) {
				t.Fatalf("provider trade expires %s, not before the order deadline %s", p.GetExpireAt().AsTime(), o.GetPayDeadline().AsTime())
			}
			again := e.pay(o, ch)
			if again.GetPaymentId() != p.GetPaymentId() || again.GetOutTradeNo() != p.GetOutTradeNo() {
				t.Fatalf("asking again while WAITING gave another attempt: %v vs %v", again, p)
			}

			e.buyerPays(p.GetQrCode())
			paid := e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
			if paid.GetProviderTradeNo() == "" || paid.GetPaidAt() == nil {
				t.Fatalf("paid payment without provider trade no / paid at: %v", paid)
			}
			order := e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
			if order.GetPaymentId() != p.GetPaymentId() {
				t.Fatalf("order paid by %d, want %d", order.GetPaymentId(), p.GetPaymentId())
			}
			if n := e.notifies(p.GetOutTradeNo()); n["ACCEPTED"] != 1 {
				t.Fatalf("notify log %v, want one ACCEPTED", n)
			}
			// A paid order takes no new attempt.
			_, err = e.payments.CreatePayment(t.Context(), &paymentv1.CreatePaymentRequest{OrderId: o.GetOrderId(), Channel: ch})
			wantCode(t, err, "FailedPrecondition")
		})
	}
}
