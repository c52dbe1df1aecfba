package app

import (
	"context"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/notification/internal/domain/delivery"
)

// ResendDelivery queues a delivery again now with a fresh attempt budget.
func (a *App) ResendDelivery(ctx context.Context, who principal.Caller, id int64) (*delivery.Delivery, error) {
	if err := merchantOnly(who, "resend a webhook delivery"); err != nil {
		return nil, err
	}
	if id <= 0 {
		return nil, delivery.ErrInvalidID
	}
	d, err := a.deliveries.Update(ctx, id, func(d *delivery.Delivery) error {
		s, err := a.subscriptions.Get(ctx, d.SubscriptionID)
		if err != nil {
			return err
		}
		if !s.Active() {
			return delivery.ErrSubscriptionDeleted
		}
		d.Resend(a.now())
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "webhook delivery re-queued", "delivery_id", id)
	a.WakeDispatcher()
	return d, nil
}
