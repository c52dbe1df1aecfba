package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// CancelOrder cancels an unpaid order and puts its stock back once. It first has the payment
// service close the order's trades at the provider: if one was paid meanwhile, the order
// becomes PAID instead and the answer is ErrWasPaid. When the payment service cannot be
// reached nothing changes (ErrPaymentUnavailable). userID, when set, must own the order.
// A customer cancels only their own order (another's is ErrNotFound; a userID that is not the
// caller ErrNotYours), and only as USER_CANCELLED; merchants see any order but cancel none
// but their own.
func (a *App) CancelOrder(ctx context.Context, who principal.Caller, id int64, userID, reason string) (*order.Order, error) {
	if id <= 0 {
		return nil, order.ErrMissingOrderID
	}
	switch reason {
	case "":
		reason = order.ReasonUserCancelled
	case order.ReasonUserCancelled:
	case order.ReasonTimeout:
		if who.User != nil {
			return nil, order.ErrBadCancelReason // only the deadline consumer cancels as TIMEOUT
		}
	default:
		return nil, order.ErrBadCancelReason
	}
	if userID != "" && !who.MayActFor(userID) {
		return nil, fmt.Errorf("cancel for user %q: %w", userID, order.ErrNotYours)
	}
	o, err := a.orders.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if (userID != "" && o.UserID != userID) || !who.MayRead(o.UserID) {
		return nil, order.ErrNotFound // exactly what an unknown id answers: no hint that it exists
	}
	if !who.MayActFor(o.UserID) {
		return nil, fmt.Errorf("cancel order %d of user %q: %w", id, o.UserID, order.ErrNotYours)
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
