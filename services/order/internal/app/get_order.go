package app

import (
	"context"

	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// GetOrder returns one order.
func (a *App) GetOrder(ctx context.Context, id int64) (*order.Order, error) {
	if id <= 0 {
		return nil, order.ErrMissingOrderID
	}
	return a.orders.Get(ctx, id)
}
