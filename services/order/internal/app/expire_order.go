package app

import (
	"context"
	"errors"
	"time"

	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// ExpireOrder cancels an order whose pay deadline has passed (reason TIMEOUT), after closing
// its provider trades: a trade found paid makes the order PAID instead. Orders no longer
// awaiting payment, unknown orders, and orders whose deadline is still ahead are left alone:
// the deadline message and the sweeper may both arrive, and more than once.
func (a *App) ExpireOrder(ctx context.Context, id int64) (*order.Order, error) {
	o, err := a.orders.Get(ctx, id)
	if errors.Is(err, order.ErrNotFound) {
		a.log.Warn("pay deadline for an unknown order", "order_id", id)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if o.Status != order.StatusPendingPayment {
		return o, nil
	}
	if now := a.now(); now.Before(o.PayDeadline) {
		// Early (a shorter ORDER_PAY_TIMEOUT than when the order was made): the sweeper
		// takes it after the deadline.
		a.log.Info("pay deadline message before the deadline; left to the sweeper", "order_id", id,
			"early_by", o.PayDeadline.Sub(now).Round(time.Millisecond).String())
		return o, nil
	}
	o, paid, err := a.closeThenCancel(ctx, id, order.ReasonTimeout)
	if errors.Is(err, order.ErrNotCancellable) {
		return a.orders.Get(ctx, id) // paid or cancelled meanwhile
	}
	if err != nil {
		return nil, err
	}
	if paid {
		a.log.Info("order paid at the provider at its deadline; kept", "order_id", id, "payment_id", o.PaymentID)
	}
	return o, nil
}
