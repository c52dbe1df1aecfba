package app

import (
	"context"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// GetOrder returns one order the caller may see. Another customer's order is ErrNotFound, as
// if it did not exist.
func (a *App) GetOrder(ctx context.Context, who principal.Caller, id int64) (*order.Order, error) {
	if id <= 0 {
		return nil, order.ErrMissingOrderID
	}
	o, err := a.orders.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !who.MayRead(o.UserID) {
		return nil, order.ErrNotFound // exactly what an unknown id answers
	}
	return o, nil
}
