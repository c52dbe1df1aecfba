package grpcport

import (
	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/tlsx"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
)

// Callers is who may call each OrderService RPC, by the SPIFFE name of their client
// certificate; admin may call all of them, and anyone else gets PermissionDenied. The order's
// money states move only on the payment service's word. GetOrder also serves payment (the order
// a payment is for) and notification (whose order a live stream watches): their calls carry the
// user on, but only the gateway's and admin's user is believed, so those two get the order and
// check its owner themselves.
func Callers() grpcauth.Policy {
	return grpcauth.Policy{
		orderv1.OrderService_ListSkus_FullMethodName:       grpcauth.By(tlsx.Gateway).WithoutEndUser(),
		orderv1.OrderService_CreateOrder_FullMethodName:    grpcauth.By(tlsx.Gateway),
		orderv1.OrderService_GetOrder_FullMethodName:       grpcauth.By(tlsx.Gateway, tlsx.Payment, tlsx.Notification),
		orderv1.OrderService_ListUserOrders_FullMethodName: grpcauth.By(tlsx.Gateway),
		orderv1.OrderService_CancelOrder_FullMethodName:    grpcauth.By(tlsx.Gateway),
		orderv1.OrderService_MarkOrderPaid_FullMethodName:  grpcauth.By(tlsx.Payment),
		orderv1.OrderService_BeginRefund_FullMethodName:    grpcauth.By(tlsx.Payment),
		orderv1.OrderService_FinishRefund_FullMethodName:   grpcauth.By(tlsx.Payment),
	}
}
