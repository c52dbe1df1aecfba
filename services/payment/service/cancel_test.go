package service_test

import (
	"context"
	"net/http"
	"testing"

	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
)

// A user's cancel goes through the real payment service and the sandbox: the order's provider
// trades are closed first, and a trade the buyer already paid keeps the order PAID.
func TestCancelOrderClosesProviderTradesFirst(t *testing.T) {
	// Slow polling: only the close that the cancel triggers can find the unnotified payment.
	e := start(t, func(c *service.Config) { c.PollScale = 100 })
	ctx := context.Background()
	const sku = "goods-gopher-mug"

	t.Run("paid at the provider, notify lost: cancel refused, order PAID, stock kept", func(t *testing.T) {
		e := e.in(t)
		before := e.stock(sku)
		o := e.order(sku, 2)
		p := e.pay(o, paymentv1.Channel_ALIPAY_QR)
		e.faults(map[string]int{"dropNotifies": 1})
		e.buyerPays(p.GetQrCode())
		if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_WAITING {
			t.Fatalf("before the cancel the payment is already %s: the test would not show the close finding it", got.GetStatus())
		}
		_, err := e.orders.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()})
		wantCode(t, err, "FailedPrecondition")
		got := e.getOrder(o.GetOrderId())
		if got.GetStatus() != orderv1.OrderStatus_PAID || got.GetPaymentId() != p.GetPaymentId() {
			t.Fatalf("order after the refused cancel = %v; want PAID by payment %d", got, p.GetPaymentId())
		}
		if pp := e.payment(p.GetPaymentId()); pp.GetStatus() != paymentv1.PaymentStatus_SUCCEEDED || pp.GetProviderTradeNo() == "" {
			t.Fatalf("payment = %v; want SUCCEEDED with the provider's trade no", pp)
		}
		if s := e.stock(sku); s != before-2 {
			t.Fatalf("stock = %d, want %d (a paid order keeps its stock)", s, before-2)
		}
	})

	t.Run("unpaid, scanned attempts on both channels: closed at the provider, QR refused, stock back", func(t *testing.T) {
		e := e.in(t)
		before := e.stock(sku)
		o := e.order(sku, 1)
		ali := e.pay(o, paymentv1.Channel_ALIPAY_QR)
		wx := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
		e.buyerScans(ali.GetQrCode()) // an unscanned Alipay QR outlives a close (TestClosedUnscannedAlipayTradeIsStillWatched)
		got, err := e.orders.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()})
		if err != nil || got.GetStatus() != orderv1.OrderStatus_CANCELLED {
			t.Fatalf("cancel = %v, %v; want CANCELLED", got, err)
		}
		for _, p := range []*paymentv1.Payment{ali, wx} {
			if pp := e.payment(p.GetPaymentId()); pp.GetStatus() != paymentv1.PaymentStatus_CLOSED {
				t.Fatalf("%s attempt is %s after the cancel, want CLOSED", p.GetChannel(), pp.GetStatus())
			}
			if code := e.sandboxDo(http.MethodPost, "/sandbox/pay", map[string]string{"qrCode": p.GetQrCode()}); code != http.StatusConflict {
				t.Fatalf("paying the %s QR of a cancelled order: HTTP %d, want 409", p.GetChannel(), code)
			}
		}
		if s := e.stock(sku); s != before {
			t.Fatalf("stock = %d, want %d (released by the cancel)", s, before)
		}
	})
}

// stock reads a SKU's stock as clients see it (ListSkus).
func (e *env) stock(sku string) int64 {
	e.t.Helper()
	res, err := e.orders.ListSkus(context.Background(), &orderv1.ListSkusRequest{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range res.GetSkus() {
		if s.GetSkuId() == sku {
			return s.GetStock()
		}
	}
	e.t.Fatalf("sku %s not in the catalog", sku)
	return 0
}
