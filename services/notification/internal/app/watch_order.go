package app

import (
	"context"
	"fmt"
	"time"

	"github.com/paysuite/paysuite/services/notification/internal/domain/notice"
)

// WatchOrder sends the latest known status of each payment of the order at once, then every
// change until ctx ends. Changes come from this process's consumer as they are handled, and from
// a periodic re-read of the records (which also covers events another instance consumed).
// A payment's status never goes back to an older one.
func (a *App) WatchOrder(ctx context.Context, orderID int64, send func(StatusUpdate) error) error {
	if orderID <= 0 {
		return notice.ErrInvalidOrderID
	}
	updates, cancel := a.feed.Subscribe(orderID) // before the snapshot, so nothing falls between
	defer cancel()

	last := map[int64]StatusUpdate{}
	push := func(u StatusUpdate) error {
		if prev, ok := last[u.PaymentID]; ok {
			if u.OccurredAt.Before(prev.OccurredAt) || (u.Status == prev.Status && u.OccurredAt.Equal(prev.OccurredAt)) {
				return nil
			}
		}
		last[u.PaymentID] = u
		return send(u)
	}
	snapshot := func() error {
		list, err := a.notifications.LatestByOrder(ctx, orderID)
		if err != nil {
			return fmt.Errorf("status of order %d: %w", orderID, err)
		}
		for _, n := range list {
			if err := push(StatusUpdate{OrderID: n.OrderID, PaymentID: n.PaymentID, Status: n.Kind, OccurredAt: n.OccurredAt}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := snapshot(); err != nil {
		return err
	}
	ticker := time.NewTicker(a.cfg.WatchPoll)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u := <-updates:
			if err := push(u); err != nil {
				return err
			}
		case <-ticker.C:
			if err := snapshot(); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}
