package grpcport

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/services/order/internal/app"
	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// errorCodes is the one place domain and app errors become gRPC codes; the first match wins.
// Out of stock is FailedPrecondition: the request is fine, the catalog is not in a state to
// serve it (ResourceExhausted would invite an automatic retry, which cannot help).
var errorCodes = []struct {
	err  error
	code codes.Code
}{
	{order.ErrInvalidInput, codes.InvalidArgument}, // includes ErrAmountMismatch, ErrRequestIDReused
	{catalog.ErrSkuNotFound, codes.NotFound},
	{order.ErrNotFound, codes.NotFound},
	{order.ErrCourseOwned, codes.AlreadyExists},
	{catalog.ErrOutOfStock, codes.FailedPrecondition},
	{order.ErrWasPaid, codes.FailedPrecondition},
	{order.ErrNotCancellable, codes.FailedPrecondition},
	{order.ErrAlreadyPaid, codes.FailedPrecondition},
	{order.ErrCancelled, codes.FailedPrecondition},
	{order.ErrNotRefundable, codes.FailedPrecondition},
	{order.ErrRefundInFlight, codes.FailedPrecondition},
	{order.ErrCourseInPendingOrder, codes.FailedPrecondition},
	{app.ErrPaymentUnavailable, codes.Unavailable},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

// toStatus maps err to a gRPC status; anything unknown is Internal with a generic message
// (the interceptor logs the detail).
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return status.Error(e.code, err.Error())
		}
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, "internal error: "+err.Error())
}
