package app

import (
	"context"
	"time"

	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// Sweeper finds orders past their deadline and takes a cross-instance lock.
type Sweeper interface {
	// ExpiredOrders returns ids of PENDING_PAYMENT orders whose deadline is before t, oldest first.
	ExpiredOrders(ctx context.Context, before time.Time, limit int) ([]int64, error)
	// TryLock takes the named lock shared by every instance, without waiting; ok is false
	// when another instance holds it.
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

const sweepBatch = 200

// SweepExpiredOrders is the backstop of the deadline messages: it expires every order still
// awaiting payment more than grace past its deadline. Only one instance sweeps at a time.
func (a *App) SweepExpiredOrders(ctx context.Context, s Sweeper, grace time.Duration) (expired int, err error) {
	unlock, ok, err := s.TryLock(ctx, "order_sweeper")
	if err != nil || !ok {
		return 0, err
	}
	defer unlock()
	for {
		ids, err := s.ExpiredOrders(ctx, a.now().Add(-grace), sweepBatch)
		if err != nil {
			return expired, err
		}
		progress := 0
		for _, id := range ids {
			o, err := a.ExpireOrder(ctx, id)
			if err != nil {
				// One order failing (payment service down) must not stop the others.
				a.log.Warn("sweeper could not expire order", "order_id", id, "err", err)
				continue
			}
			if o != nil && o.Status != order.StatusPendingPayment {
				progress++
			}
		}
		expired += progress
		if len(ids) < sweepBatch || progress == 0 {
			return expired, nil // done, or only failing orders left: next tick
		}
	}
}
