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
	// Watchers and the dispatcher hear of the event only once the consumer's transaction holding
	// it has committed, so they never see what a rollback would undo.
	update := StatusUpdate{OrderID: r.OrderID, PaymentID: r.PaymentID, Status: r.Kind, OccurredAt: n.OccurredAt}
	a.afterCommit(ctx, func() {
		a.feed.Publish(update)
		if queued > 0 {
			a.WakeDispatcher()
		}
	})
	a.log.InfoContext(ctx, "user notified", "event_id", r.EventID, "user_id", r.UserID, "order_id", r.OrderID,
		"kind", string(r.Kind), "webhooks", queued)
	return nil
}
