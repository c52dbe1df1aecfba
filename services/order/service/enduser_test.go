package service_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/pkg/principal/grpcprincipal"
	"github.com/paysuite/paysuite/pkg/tlsx"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
)

// The end user (x-paysuite-user) is believed only from the gateway and admin. From another
// service it is ignored, so the call is that service's own: payment and notification, which may
// call GetOrder, get user A's order although they name user B, where the gateway naming B gets
// NotFound. And the gateway must name a user: without one it is refused, but for the catalog.
func TestTheEndUserIsBelievedOnlyFromTheGatewayAndAdmin(t *testing.T) {
	e := start(t)
	e.addSku(t, "mug", "GOODS", 100, 10)
	order := e.create(t, "user-a", "r1", item("mug", 1))
	get := &orderv1.GetOrderRequest{OrderId: order.GetOrderId()}
	as := func(caller string) orderv1.OrderServiceClient {
		return orderv1.NewOrderServiceClient(e.stack.DialAs(caller, tlsx.Order, e.cfg.GRPCAddr))
	}
	naming := func(user string, roles ...string) context.Context {
		return grpcprincipal.OutgoingContext(context.Background(), principal.Principal{UserID: user, Roles: roles})
	}

	for _, c := range []struct {
		caller string
		ctx    context.Context
		want   codes.Code
		why    string
	}{
		{tlsx.Gateway, naming("user-a"), codes.OK, "the gateway for the owner"},
		{tlsx.Gateway, naming("user-b"), codes.NotFound, "the gateway for another user: believed"},
		{tlsx.Admin, naming("user-b"), codes.NotFound, "admin for another user: believed"},
		{tlsx.Payment, naming("user-b"), codes.OK, "payment naming another user: ignored, payment's own call"},
		{tlsx.Notification, naming("user-b"), codes.OK, "notification naming another user: ignored"},
		{tlsx.Gateway, context.Background(), codes.Unauthenticated, "the gateway naming nobody"},
	} {
		got, err := as(c.caller).GetOrder(c.ctx, get)
		if code := status.Code(err); code != c.want {
			t.Fatalf("%s: GetOrder %s (%v), want %s", c.why, code, err, c.want)
		}
		if c.want == codes.OK && got.GetUserId() != "user-a" {
			t.Fatalf("%s: order of %q, want user-a's", c.why, got.GetUserId())
		}
	}

	// The gateway's user acts only for themselves: user B's list for user A is PermissionDenied.
	_, err := as(tlsx.Gateway).ListUserOrders(naming("user-a"), &orderv1.ListUserOrdersRequest{UserId: "user-b"})
	wantCode(t, err, codes.PermissionDenied)

	// Nothing the refused calls did changed the order; the catalog needs no user.
	_, err = as(tlsx.Gateway).CancelOrder(context.Background(), &orderv1.CancelOrderRequest{OrderId: order.GetOrderId()})
	wantCode(t, err, codes.Unauthenticated)
	_, err = as(tlsx.Gateway).CancelOrder(naming("user-b"), &orderv1.CancelOrderRequest{OrderId: order.GetOrderId()})
	wantCode(t, err, codes.NotFound)
	if o, err := e.client.GetOrder(context.Background(), get); err != nil || o.GetStatus() != orderv1.OrderStatus_PENDING_PAYMENT {
		t.Fatalf("after the refused cancels the order is %v (%v), want PENDING_PAYMENT", o.GetStatus(), err)
	}
	if _, err := as(tlsx.Gateway).ListSkus(context.Background(), &orderv1.ListSkusRequest{}); err != nil {
		t.Fatalf("the gateway's catalog without a user: %v", err)
	}
}
