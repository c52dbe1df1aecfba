package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// CancelOrder cancels an unpaid order and puts its stock back once. It first has the payment
// service close the order's trades at the provider: if one was paid meanwhile, the order
// becomes PAID instead and the answer is ErrWasPaid. When the payment service cannot be
// reached nothing changes (ErrPaymentUnavailable). userID, when set, must own the order.
func (a *App) CancelOrder(ctx context.Context, id int64, userID, reason string) (*order.Order, error) {
	if id <= 0 {
		return nil, order.ErrMissingOrderID
	}
	switch reason {
	case "":
		reason = order.ReasonUserCancelled
	case order.ReasonUserCancelled, order.ReasonTimeout:
	default:
		return nil, order.ErrBadCancelReason
	}
	o, err := a.orders.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if userID != "" && o.UserID != userID {
		return nil, fmt.Errorf("order %d of another user: %w", id, order.ErrNotFound) // no hint that it exists
	}
	if err := o.Cancel(reason, a.now()); err != nil {
		return nil, err // not cancellable: no need to bother the payment service
	}
	if a.closer != nil {
		paid, err := a.closer.ClosePayments(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("close payments of order %d: %w: %w", id, ErrPaymentUnavailable, err)
		}
		if paid != nil {
			if _, err := a.orders.Update(ctx, id, func(o *order.Order) error {
				return o.MarkPaid(paid.PaymentID, paid.Amount, paid.PaidAt)
			}); err != nil && !errors.Is(err, order.ErrAlreadyPaid) {
				return nil, fmt.Errorf("order %d paid by payment %d while cancelling: %w", id, paid.PaymentID, err)
			}
			return nil, fmt.Errorf("order %d: payment %d arrived before the cancel: %w", id, paid.PaymentID, order.ErrWasPaid)
		}
	}
	return a.orders.Update(ctx, id, func(o *order.Order) error {
		return o.Cancel(reason, a.now())
	})
}
