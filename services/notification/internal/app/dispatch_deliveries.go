package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/paysuite/paysuite/services/notification/internal/domain/delivery"
)

// leaseMargin is added to the send timeout: a claimed delivery is retried by anyone only after
// its POST surely ended, i.e. only when the dispatcher that claimed it died.
const leaseMargin = 30 * time.Second

// WakeDispatcher makes RunDispatcher look for due deliveries now instead of at its next poll.
func (a *App) WakeDispatcher() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// RunDispatcher sends due webhook deliveries until ctx is done, sleeping until the next one is
// due (at most poll). Deliveries are rows with next_attempt_at, so a restart resumes them; POSTs
// in flight when ctx ends finish (bounded by the send timeout) and are recorded.
func (a *App) RunDispatcher(ctx context.Context, poll time.Duration) error {
	for {
		n, err := a.DispatchDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			a.log.WarnContext(ctx, "webhook dispatch pass failed", "err", err)
		} else if n == a.cfg.DispatchBatch {
			continue // probably more due right now
		}
		wait := poll
		if next, ok, err := a.deliveries.NextDue(ctx); err == nil && ok {
			wait = min(wait, max(next.Sub(a.now()), 5*time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-a.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// DispatchDue claims the due deliveries (up to the batch size), POSTs them concurrently and
// records every attempt. It returns how many it claimed.
func (a *App) DispatchDue(ctx context.Context) (int, error) {
	claimed, err := a.deliveries.ClaimDue(ctx, a.now(), a.cfg.SendTimeout+leaseMargin, a.cfg.DispatchBatch)
	if err != nil {
		return 0, err
	}
	// Claimed rows are sent and recorded even if ctx ends meanwhile (shutdown drains them).
	work := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for _, d := range claimed {
		wg.Go(func() { a.attempt(work, d) })
	}
	wg.Wait()
	return len(claimed), nil
}

func (a *App) attempt(ctx context.Context, d *delivery.Delivery) {
	log := a.log.With("delivery_id", d.ID, "subscription_id", d.SubscriptionID, "event_id", d.EventID)
	sub, err := a.subscriptions.Get(ctx, d.SubscriptionID)
	if err != nil && !errors.Is(err, delivery.ErrSubscriptionNotFound) {
		log.WarnContext(ctx, "webhook subscription lookup failed; retried after the lease", "err", err)
		return
	}
	if err != nil || !sub.Active() {
		if _, err := a.deliveries.Update(ctx, d.ID, func(d *delivery.Delivery) error {
			d.Abandon("subscription deleted")
			return nil
		}); err != nil {
			log.WarnContext(ctx, "abandon delivery failed", "err", err)
		}
		return
	}
	sendCtx, cancel := context.WithTimeout(ctx, a.cfg.SendTimeout)
	res := a.sender.Send(sendCtx, sub.URL, sub.Secret, d.EventID, d.Body)
	cancel()
	var rec delivery.Attempt
	updated, err := a.deliveries.Update(ctx, d.ID, func(d *delivery.Delivery) error {
		rec = d.Record(res, a.cfg.Schedule)
		return nil
	})
	if err != nil {
		// The lease runs out and the delivery is retried: at-least-once, receivers dedupe by eventId.
		log.ErrorContext(ctx, "record webhook attempt failed", "err", err, "http_status", res.HTTPStatus)
		return
	}
	msg := "webhook delivered"
	switch updated.Status {
	case delivery.StatusPending:
		msg = "webhook attempt failed; will retry"
	case delivery.StatusFailed:
		msg = "webhook delivery failed; attempts exhausted"
	}
	log.InfoContext(ctx, msg, "attempt", rec.N, "http_status", rec.HTTPStatus, "error", rec.Error,
		"latency_ms", rec.Latency.Milliseconds(), "next_attempt_at", updated.NextAttemptAt)
}
