package service_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/order/service"
)

// Cancelling with the real payment service — trades closed first, a paid one keeps the order
// PAID — is tested in services/payment/service (TestCancelOrderClosesProviderTradesFirst), where
// order, payment and the provider sandbox run together. Here: without the payment service a
// cancel must change nothing.
func TestCancelWithPaymentServiceDownChangesNothing(t *testing.T) {
	down := testkit.FreeAddr(t) // nothing listens there
	e := start(t, func(c *service.Config) { c.PaymentTarget = down })
	e.addSku(t, "mug", "GOODS", 4500, 10)
	o := e.create(t, "u1", "r1", item("mug", 1))
	_, err := e.client.CancelOrder(context.Background(), &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()})
	wantCode(t, err, codes.Unavailable)
	got := e.get(t, o.GetOrderId())
	if got.GetStatus() != orderv1.OrderStatus_PENDING_PAYMENT || e.stock(t, "mug") != 9 {
		t.Fatalf("after a failed cancel: %s, stock %d; want PENDING_PAYMENT and 9", got.GetStatus(), e.stock(t, "mug"))
	}
}
