package app

import (
	"context"
	"errors"
	"time"

	"github.com/paysuite/paysuite/pkg/leader"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// Sweeper finds orders past their deadline.
type Sweeper interface {
	// ExpiredOrders returns ids of PENDING_PAYMENT orders whose deadline is before t, oldest first.
	ExpiredOrders(ctx context.Context, before time.Time, limit int) ([]int64, error)
}

const sweepBatch = 200

// SweepExpiredOrders is the backstop of the deadline messages: it expires every order still
// awaiting payment more than grace past its deadline. Only the instance holding lock sweeps.
func (a *App) SweepExpiredOrders(ctx context.Context, s Sweeper, lock leader.Lock, grace time.Duration) (expired int, err error) {
	ok, err := lock.Hold(ctx)
	if err != nil || !ok {
		return 0, err
	}
	defer lock.Release()
	// Every expiry commits only while this instance still leads: one deposed mid-sweep stops
	// instead of sweeping beside the new leader.
	ctx = lock.Fenced(ctx)
	for {
		ids, err := s.ExpiredOrders(ctx, a.now().Add(-grace), sweepBatch)
		if err != nil {
			return expired, err
		}
		progress := 0
		for _, id := range ids {
			o, err := a.ExpireOrder(ctx, id)
			if errors.Is(err, leader.ErrDeposed) {
				return expired, err
			}
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
