package grpc

import (
	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/tlsx"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

// Callers is who may call each PaymentService RPC, by the SPIFFE name of their client
// certificate; admin may call all of them, and anyone else gets PermissionDenied.
func Callers() grpcauth.Policy {
	return grpcauth.Policy{
		paymentv1.PaymentService_CreatePayment_FullMethodName:       grpcauth.By(tlsx.Gateway),
		paymentv1.PaymentService_GetPayment_FullMethodName:          grpcauth.By(tlsx.Gateway),
		paymentv1.PaymentService_ListOrderPayments_FullMethodName:   grpcauth.By(tlsx.Gateway),
		paymentv1.PaymentService_ClosePayments_FullMethodName:       grpcauth.By(tlsx.Order),
		paymentv1.PaymentService_RefundPayment_FullMethodName:       grpcauth.By(tlsx.Gateway),
		paymentv1.PaymentService_GetRefund_FullMethodName:           grpcauth.By(tlsx.Gateway),
		paymentv1.PaymentService_ListAnomalies_FullMethodName:       grpcauth.By(tlsx.Gateway),
		paymentv1.PaymentService_VerifyReturn_FullMethodName:        grpcauth.By(tlsx.Gateway),
		paymentv1.PaymentService_RunReconciliation_FullMethodName:   grpcauth.By(tlsx.Gateway),
		paymentv1.PaymentService_GetReconciliation_FullMethodName:   grpcauth.By(tlsx.Gateway),
		paymentv1.PaymentService_ListReconciliations_FullMethodName: grpcauth.By(tlsx.Gateway),
		// Operators only (`paysuite payment sync`, `refund sync`): no REST route, no service calls them.
		paymentv1.PaymentService_SyncPayment_FullMethodName: grpcauth.By(),
		paymentv1.PaymentService_SyncRefund_FullMethodName:  grpcauth.By(),
	}
}
