package service_test

import (
	"context"
	"testing"

	"github.com/paysuite/paysuite/pkg/testkit"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

// Money that arrives for an order already cancelled goes back to the buyer, recorded and
// published. (The order service here runs without PAYMENT_TARGET, so its cancel does not close
// the provider trade first and the buyer can still pay it — the race the close normally prevents.)
func TestPaymentForACancelledOrderIsRefunded(t *testing.T) {
	e := startWith(t, func(o *orderConfig) { o.PaymentTarget = "" })
	events := listen(t, e.amqpURL)
	o := e.order("goods-sticker-pack", 1)
	p := e.pay(o, paymentv1.Channel_ALIPAY_QR)
	if _, err := e.orders.CancelOrder(context.Background(), &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()}); err != nil {
		t.Fatal(err)
	}
	e.buyerPays(p.GetQrCode())
	e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
	if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND auto AND reason = 'ORDER_CANCELLED' AND status = 'SUCCEEDED'", p.GetPaymentId()); n != 1 {
		t.Fatalf("%d ORDER_CANCELLED refunds recorded, want 1", n)
	}
	if got := e.getOrder(o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_CANCELLED {
		t.Fatalf("order is %s, want CANCELLED", got.GetStatus())
	}
	testkit.Eventually(t, wait, func() bool {
		return events.count(p.GetPaymentId(), eventsv1.PaymentResultType_PAYMENT_SUCCEEDED) == 1 &&
			events.count(p.GetPaymentId(), eventsv1.PaymentResultType_PAYMENT_REFUNDED) == 1
	}, "want one SUCCEEDED and one REFUNDED event")
}
