package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/notification/internal/domain/delivery"
)

// secretPrefix marks the signing secrets we generate, so one pasted into a log is recognisable.
const secretPrefix = "whsec_"

// CreateWebhookSubscription registers a merchant endpoint; it receives every later event. An
// empty secret is generated (32 random bytes). The answer carries the secret: the only time it
// is shown, for it is stored encrypted and never listed.
func (a *App) CreateWebhookSubscription(ctx context.Context, who principal.Caller, url, secret, description string) (*delivery.Subscription, error) {
	if err := merchantOnly(who, "create a webhook subscription"); err != nil {
		return nil, err
	}
	if secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		secret = secretPrefix + base64.RawURLEncoding.EncodeToString(b)
	}
	s, err := delivery.NewSubscription(a.newID(), url, secret, description, a.now(), a.cfg.AllowHTTP)
	if err != nil {
		return nil, err
	}
	if err := a.subscriptions.Create(ctx, s); err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "webhook subscription created", "subscription_id", s.ID, "url", s.URL, "by", who.UserID())
	return s, nil
}

// ListWebhookSubscriptions returns the active subscriptions, without their secrets.
func (a *App) ListWebhookSubscriptions(ctx context.Context, who principal.Caller) ([]*delivery.Subscription, error) {
	if err := merchantOnly(who, "list webhook subscriptions"); err != nil {
		return nil, err
	}
	list, err := a.subscriptions.ListActive(ctx)
	for _, s := range list {
		s.Secret = ""
	}
	return list, err
}

// DeleteWebhookSubscription stops deliveries to a subscription; its delivery log stays listable.
func (a *App) DeleteWebhookSubscription(ctx context.Context, who principal.Caller, id int64) error {
	if err := merchantOnly(who, "delete a webhook subscription"); err != nil {
		return err
	}
	if id <= 0 {
		return delivery.ErrInvalidID
	}
	if err := a.subscriptions.Delete(ctx, id, a.now()); err != nil {
		return err
	}
	a.log.InfoContext(ctx, "webhook subscription deleted", "subscription_id", id, "by", who.UserID())
	return nil
}

func merchantOnly(who principal.Caller, what string) error {
	if who.IsMerchant() {
		return nil
	}
	return fmt.Errorf("%s: %w", what, ErrMerchantOnly)
}
