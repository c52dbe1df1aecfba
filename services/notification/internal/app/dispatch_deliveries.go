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
// due (at most poll). Deliveries are rows with next_attempt_at, so a restart resumes them.
// Each delivery is sent on its own as soon as it is claimed, with at most DispatchBatch POSTs in
// flight and at most PerSubscription to one endpoint: a slow endpoint holds back only its own
// deliveries, never a whole batch. POSTs in flight when ctx ends finish (bounded by the send
// timeout) and are recorded.
func (a *App) RunDispatcher(ctx context.Context, poll time.Duration) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		n, err := a.dispatchDue(ctx, &wg)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			a.log.WarnContext(ctx, "webhook dispatch pass failed", "err", err)
		} else if n > 0 {
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
		case <-a.inFlight.freed:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// dispatchDue claims the due deliveries there is room for and starts sending each (wg tracks
// them). It returns how many it claimed.
func (a *App) dispatchDue(ctx context.Context, wg *sync.WaitGroup) (int, error) {
	room, busy := a.inFlight.room(a.cfg.DispatchBatch)
	if room == 0 {
		return 0, nil
	}
	claimed, err := a.deliveries.ClaimDue(ctx, a.now(), a.cfg.SendTimeout+leaseMargin,
		Claim{Limit: room, PerSubscription: a.cfg.PerSubscription, InFlight: busy})
	if err != nil {
		return 0, err
	}
	// Claimed rows are sent and recorded even if ctx ends meanwhile (shutdown drains them).
	work := context.WithoutCancel(ctx)
	for _, d := range claimed {
		a.inFlight.start(d.SubscriptionID)
		wg.Go(func() {
			defer a.inFlight.finish(d.SubscriptionID)
			a.attempt(work, d)
		})
	}
	return len(claimed), nil
}

// Claim bounds what ClaimDue may lease.
type Claim struct {
	Limit           int           // deliveries in all
	PerSubscription int           // in flight per subscription, counting InFlight
	InFlight        map[int64]int // deliveries this dispatcher is sending now, by subscription
}

// Room reports how many more deliveries of subscription id the claim allows.
func (c Claim) Room(id int64) int { return c.PerSubscription - c.InFlight[id] }

// inFlight counts the POSTs under way, by subscription.
type inFlight struct {
	mu    sync.Mutex
	bySub map[int64]int
	total int
	freed chan struct{} // a POST ended: there may be room for a claim
}

func newInFlight() *inFlight {
	return &inFlight{bySub: map[int64]int{}, freed: make(chan struct{}, 1)}
}

func (f *inFlight) room(batch int) (int, map[int64]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	busy := make(map[int64]int, len(f.bySub))
	for id, n := range f.bySub {
		busy[id] = n
	}
	return max(0, batch-f.total), busy
}

func (f *inFlight) start(sub int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bySub[sub]++
	f.total++
}

func (f *inFlight) finish(sub int64) {
	f.mu.Lock()
	if f.bySub[sub]--; f.bySub[sub] <= 0 {
		delete(f.bySub, sub)
	}
	f.total--
	f.mu.Unlock()
	select {
	case f.freed <- struct{}{}:
	default:
	}
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
