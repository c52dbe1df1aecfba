package grpcport

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/services/order/internal/app"
	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

func TestErrorCodes(t *testing.T) {
	tests := []struct {
		err  error
		want codes.Code
	}{
		{order.ErrInvalidQuantity, codes.InvalidArgument},
		{fmt.Errorf("order 1: %w", order.ErrAmountMismatch), codes.InvalidArgument},
		{order.ErrRequestIDReused, codes.InvalidArgument},
		{catalog.NotFound("x"), codes.NotFound},
		{order.ErrNotFound, codes.NotFound},
		{order.ErrCourseOwned, codes.AlreadyExists},
		{catalog.OutOfStock("x"), codes.FailedPrecondition},
		{fmt.Errorf("%w: %w", order.ErrNotCancellable, order.ErrWasPaid), codes.FailedPrecondition},
		{order.ErrAlreadyPaid, codes.FailedPrecondition},
		{order.ErrCancelled, codes.FailedPrecondition},
		{order.ErrRefundInFlight, codes.FailedPrecondition},
		{fmt.Errorf("close: %w: %w", app.ErrPaymentUnavailable, errors.New("dial")), codes.Unavailable},
		{errors.New("disk on fire"), codes.Internal},
	}
	for _, tt := range tests {
		if got := status.Code(toStatus(tt.err)); got != tt.want {
			t.Errorf("%v → %s, want %s", tt.err, got, tt.want)
		}
	}
	if toStatus(nil) != nil {
		t.Error("nil error mapped to a status")
	}
}
