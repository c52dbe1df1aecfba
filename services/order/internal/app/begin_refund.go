package app

import (
	"context"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// BeginRefund marks a refund of payment paymentID in flight (PAID → REFUNDING). Idempotent for
// the same refund; a refund of another payment than the order's is refused.
func (a *App) BeginRefund(ctx context.Context, id, refundID, paymentID int64, amount money.Fen) (*order.Order, error) {
	if id <= 0 {
		return nil, order.ErrMissingOrderID
	}
	return a.orders.Update(ctx, id, func(o *order.Order) error {
		if err := o.RefundsPayment(paymentID); err != nil {
			return err
		}
		return o.BeginRefund(refundID, amount)
	})
}
