package app

import (
	"context"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// MarkOrderPaid records the payment that paid the order. Idempotent for the same payment.
func (a *App) MarkOrderPaid(ctx context.Context, id, paymentID int64, amount money.Fen, paidAt time.Time) (*order.Order, error) {
	if id <= 0 {
		return nil, order.ErrMissingOrderID
	}
	if paymentID <= 0 {
		return nil, order.ErrMissingPaymentID
	}
	if paidAt.IsZero() {
		paidAt = a.now()
	}
	return a.orders.Update(ctx, id, func(o *order.Order) error {
		return o.MarkPaid(paymentID, amount, paidAt)
	})
}
