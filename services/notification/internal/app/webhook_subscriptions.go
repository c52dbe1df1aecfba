package app

import (
	"context"

	"github.com/paysuite/paysuite/services/notification/internal/domain/delivery"
)

// CreateWebhookSubscription registers a merchant endpoint; it receives every later event.
func (a *App) CreateWebhookSubscription(ctx context.Context, url, secret, description string) (*delivery.Subscription, error) {
	s, err := delivery.NewSubscription(a.newID(), url, secret, description, a.now())
	if err != nil {
		return nil, err
	}
	if err := a.subscriptions.Create(ctx, s); err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "webhook subscription created", "subscription_id", s.ID, "url", s.URL)
	return s, nil
}

// ListWebhookSubscriptions returns the active subscriptions.
func (a *App) ListWebhookSubscriptions(ctx context.Context) ([]*delivery.Subscription, error) {
	return a.subscriptions.ListActive(ctx)
}

// DeleteWebhookSubscription stops deliveries to a subscription; its delivery log stays listable.
func (a *App) DeleteWebhookSubscription(ctx context.Context, id int64) error {
	if id <= 0 {
		return delivery.ErrInvalidID
	}
	if err := a.subscriptions.Delete(ctx, id, a.now()); err != nil {
		return err
	}
	a.log.InfoContext(ctx, "webhook subscription deleted", "subscription_id", id)
	return nil
}
