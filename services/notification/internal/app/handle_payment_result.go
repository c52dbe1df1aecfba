package app

import (
	"context"
	"fmt"

	"github.com/paysuite/paysuite/services/notification/internal/domain/notice"
)

// HandlePaymentResult tells the user (one notification per event id), queues the event for every
// webhook subscription, and feeds the order's watchers. An event seen before changes nothing.
// webhookBody is the JSON merchants receive for it.
func (a *App) HandlePaymentResult(ctx context.Context, r notice.Result, webhookBody []byte) error {
	now := a.now()
	n, err := notice.FromResult(a.newID(), r, now)
	if err != nil {
		return err
	}
	var fresh bool
	var queued int
	err = a.tx(ctx, func(ctx context.Context) error {
		if fresh, err = a.notifications.Add(ctx, n); err != nil || !fresh {
			return err
		}
		queued, err = a.deliveries.Enqueue(ctx, r.EventID, webhookBody, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("record event %s: %w", r.EventID, err)
	}
	if !fresh {
		a.log.InfoContext(ctx, "event already recorded", "event_id", r.EventID)
		return nil
	}
	// These run before the consumer's commit: a watcher or the dispatcher may see the event a
	// moment early (the status is the payment service's fact either way), and the dispatcher
	// re-polls, so a delivery not yet visible is sent on its next pass.
	a.feed.Publish(StatusUpdate{OrderID: r.OrderID, PaymentID: r.PaymentID, Status: r.Kind, OccurredAt: n.OccurredAt})
	if queued > 0 {
		a.WakeDispatcher()
	}
	a.log.InfoContext(ctx, "user notified", "event_id", r.EventID, "user_id", r.UserID, "order_id", r.OrderID,
		"kind", string(r.Kind), "webhooks", queued)
	return nil
}
