package grpcport

import (
	"google.golang.org/grpc/codes"

	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/services/order/internal/app"
	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// errorCodes is the one place domain and app errors become gRPC codes; the first match wins.
// Out of stock is FailedPrecondition: the request is fine, the catalog is not in a state to
// serve it (ResourceExhausted would invite an automatic retry, which cannot help).
var errorCodes = []grpcserver.ErrorCode{
	{Err: order.ErrInvalidInput, Code: codes.InvalidArgument}, // includes ErrAmountMismatch, ErrRequestIDReused
	{Err: catalog.ErrSkuNotFound, Code: codes.NotFound},
	{Err: order.ErrNotFound, Code: codes.NotFound},
	{Err: order.ErrCourseOwned, Code: codes.AlreadyExists},
	{Err: catalog.ErrOutOfStock, Code: codes.FailedPrecondition},
	{Err: order.ErrWasPaid, Code: codes.FailedPrecondition},
	{Err: order.ErrNotCancellable, Code: codes.FailedPrecondition},
	{Err: order.ErrAlreadyPaid, Code: codes.FailedPrecondition},
	{Err: order.ErrCancelled, Code: codes.FailedPrecondition},
	{Err: order.ErrNotRefundable, Code: codes.FailedPrecondition},
	{Err: order.ErrRefundInFlight, Code: codes.FailedPrecondition},
	{Err: order.ErrRefundOtherPayment, Code: codes.FailedPrecondition},
	{Err: order.ErrCourseInPendingOrder, Code: codes.FailedPrecondition},
	{Err: order.ErrTooManyPending, Code: codes.ResourceExhausted},
	{Err: order.ErrNotYours, Code: codes.PermissionDenied},
	{Err: app.ErrPaymentUnavailable, Code: codes.Unavailable},
}

// toStatus maps err to a gRPC status through errorCodes (see grpcserver.ToStatus).
func toStatus(err error) error { return grpcserver.ToStatus(errorCodes, err) }
