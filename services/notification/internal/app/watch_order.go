package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/notification/internal/domain/notice"
)

// Watch is one live order stream: Ready is called once the watch is allowed (before anything
// is sent, so a refusal never looks like an open stream), Send for each update.
type Watch struct {
	Ready func() error
	Send  func(StatusUpdate) error
}

// WatchOrder sends the latest known status of each payment of the order at once, then every
// change until the order's status is final, ctx ends, or WatchMaxAge passes. Changes come from
// this process's consumer as they are handled, and from a periodic re-read of the records
// (which also covers events another instance consumed). A payment's status never goes back to
// an older one.
//
// For a user, the order service is asked first whose the order is: another customer's order is
// ErrOrderNotFound; and a user holds at most WatchPerUser streams (ErrTooManyWatches). Both are
// refused before Ready, so nothing is held open for them.
func (a *App) WatchOrder(ctx context.Context, who principal.Caller, orderID int64, w Watch) error {
	if orderID <= 0 {
		return notice.ErrInvalidOrderID
	}
	status, err := a.checkWatch(ctx, who, orderID)
	if err != nil {
		return err
	}
	if user := who.UserID(); user != "" {
		if !a.watches.acquire(user, a.cfg.WatchPerUser) {
			return fmt.Errorf("user %q: %w", user, ErrTooManyWatches)
		}
		defer a.watches.release(user)
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.WatchMaxAge)
	defer cancel()
	updates, unsubscribe := a.feed.Subscribe(orderID) // before the snapshot, so nothing falls between
	defer unsubscribe()
	if err := w.Ready(); err != nil {
		return err
	}

	last := map[int64]StatusUpdate{}
	// push sends u unless it is old news; done reports that the order has nothing more to say.
	push := func(u StatusUpdate) (done bool, err error) {
		if prev, ok := last[u.PaymentID]; ok {
			if u.OccurredAt.Before(prev.OccurredAt) || (u.Status == prev.Status && u.OccurredAt.Equal(prev.OccurredAt)) {
				return false, nil
			}
		}
		last[u.PaymentID] = u
		if err := w.Send(u); err != nil {
			return false, err
		}
		return a.finalAfter(ctx, orderID, u), nil
	}
	snapshot := func() (bool, error) {
		list, err := a.notifications.LatestByOrder(ctx, orderID)
		if err != nil {
			return false, fmt.Errorf("status of order %d: %w", orderID, err)
		}
		done := false
		for _, n := range list {
			d, err := push(StatusUpdate{OrderID: n.OrderID, PaymentID: n.PaymentID, Status: n.Kind, OccurredAt: n.OccurredAt})
			if err != nil {
				return false, err
			}
			done = done || d
		}
		return done, nil
	}
	done, err := snapshot()
	if err != nil || done || status.Final() {
		return err // a final order: what there is to know has been sent
	}
	ticker := time.NewTicker(a.cfg.WatchPoll)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil // the client left, the service stops, or the stream is old enough
		case u := <-updates:
			done, err = push(u)
		case <-ticker.C:
			done, err = snapshot()
			if err != nil && ctx.Err() != nil {
				return nil
			}
		}
		if err != nil || done {
			return err
		}
	}
}

// checkWatch makes sure a user watches an order of theirs (merchants any), and returns its status.
func (a *App) checkWatch(ctx context.Context, who principal.Caller, orderID int64) (OrderStatus, error) {
	if who.User == nil {
		return "", nil // an operator or service: the transport vetted it
	}
	if a.orders == nil {
		return "", fmt.Errorf("watch order %d: %w: no order service configured", orderID, ErrOrdersUnavailable)
	}
	// Another user's order answers exactly as an unknown one: its existence is not revealed.
	notFound := fmt.Errorf("order %d: %w", orderID, ErrOrderNotFound)
	owner, status, err := a.orders.Order(ctx, orderID)
	if errors.Is(err, ErrOrderNotFound) {
		return "", notFound
	}
	if err != nil {
		return "", fmt.Errorf("watch order %d: %w: %w", orderID, ErrOrdersUnavailable, err)
	}
	if !who.MayRead(owner) {
		return "", notFound
	}
	return status, nil
}

// finalAfter reports whether the order is over once u is known: paid or refunded says so
// itself; a closed attempt may mean the order was cancelled, which the order service knows.
func (a *App) finalAfter(ctx context.Context, orderID int64, u StatusUpdate) bool {
	switch u.Status {
	case notice.KindSucceeded, notice.KindRefunded:
		return true
	case notice.KindClosed:
		if a.orders == nil {
			return false
		}
		_, status, err := a.orders.Order(ctx, orderID)
		return err == nil && status.Final()
	}
	return false
}

// watchCounts counts each user's live streams in this process.
type watchCounts struct {
	mu     sync.Mutex
	byUser map[string]int
}

func (c *watchCounts) acquire(user string, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byUser[user] >= max {
		return false
	}
	c.byUser[user]++
	return true
}

func (c *watchCounts) release(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byUser[user]--; c.byUser[user] <= 0 {
		delete(c.byUser, user)
	}
}
