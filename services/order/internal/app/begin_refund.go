package app

import (
	"context"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// BeginRefund marks a refund in flight (PAID → REFUNDING). Idempotent for the same refund.
func (a *App) BeginRefund(ctx context.Context, id, refundID int64, amount money.Fen) (*order.Order, error) {
	if id <= 0 {
		return nil, order.ErrMissingOrderID
	}
	return a.orders.Update(ctx, id, func(o *order.Order) error {
		return o.BeginRefund(refundID, amount)
	})
}
