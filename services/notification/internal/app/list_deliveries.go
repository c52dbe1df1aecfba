package app

import (
	"context"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/notification/internal/domain/delivery"
)

// ListDeliveries returns a page of a subscription's deliveries (newest first) with their attempt logs.
func (a *App) ListDeliveries(ctx context.Context, who principal.Caller, subscriptionID int64, pageSize int, pageToken string) ([]*delivery.Delivery, string, error) {
	if err := merchantOnly(who, "list webhook deliveries"); err != nil {
		return nil, "", err
	}
	if subscriptionID <= 0 {
		return nil, "", delivery.ErrInvalidID
	}
	limit, before, err := page(pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	if _, err := a.subscriptions.Get(ctx, subscriptionID); err != nil {
		return nil, "", err
	}
	list, err := a.deliveries.ListBySubscription(ctx, subscriptionID, before, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = token(list[limit-1].ID)
	}
	return list, next, nil
}
