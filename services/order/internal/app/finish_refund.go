package app

import (
	"context"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// FinishRefund records a settled refund with the running total refunded for the order:
// REFUNDED when all of it is back (which frees a course for buying again), else PAID.
func (a *App) FinishRefund(ctx context.Context, id, refundID, paymentID int64, refundedTotal money.Fen, at time.Time) (*order.Order, error) {
	if id <= 0 {
		return nil, order.ErrMissingOrderID
	}
	if at.IsZero() {
		at = a.now()
	}
	return a.orders.Update(ctx, id, func(o *order.Order) error {
		if err := o.RefundsPayment(paymentID); err != nil {
			return err
		}
		return o.FinishRefund(refundID, refundedTotal, at)
	})
}
