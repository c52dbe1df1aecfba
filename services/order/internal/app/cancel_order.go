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
	o, paid, err := a.closeThenCancel(ctx, id, reason)
	if err != nil {
		return nil, err
	}
	if paid {
		return nil, fmt.Errorf("order %d: payment %d arrived before the cancel: %w", id, o.PaymentID, order.ErrWasPaid)
	}
	return o, nil
}

// closeThenCancel has the payment service close the order's provider trades, then cancels the
// order, or marks it PAID (paid = true) when a trade turned out paid. Nothing changes when the
// payment service cannot be reached (ErrPaymentUnavailable).
func (a *App) closeThenCancel(ctx context.Context, id int64, reason string) (o *order.Order, paid bool, err error) {
	if a.closer != nil {
		p, err := a.closer.ClosePayments(ctx, id)
		if err != nil {
			return nil, false, fmt.Errorf("close payments of order %d: %w: %w", id, ErrPaymentUnavailable, err)
		}
		if p != nil {
			o, err := a.orders.Update(ctx, id, func(o *order.Order) error {
				return o.MarkPaid(p.PaymentID, p.Amount, p.PaidAt)
			})
			if errors.Is(err, order.ErrAlreadyPaid) { // paid twice: the payment side refunds the other one
				o, err = a.orders.Get(ctx, id)
			}
			if err != nil {
				return nil, false, fmt.Errorf("order %d paid by payment %d while cancelling: %w", id, p.PaymentID, err)
			}
			return o, true, nil
		}
	}
	o, err = a.orders.Update(ctx, id, func(o *order.Order) error {
		return o.Cancel(reason, a.now())
	})
	return o, false, err
}
