package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// CloseResult says what ClosePayments did.
type CloseResult struct {
	Closed []*payment.Payment
	Paid   *payment.Payment // an attempt turned out paid: the order must not be cancelled
}

// ClosePayments closes every WAITING attempt of an order at the provider before the order is
// cancelled. An attempt the provider reports paid is recorded (the notify path) and returned.
func (a *App) ClosePayments(ctx context.Context, orderID int64) (CloseResult, error) {
	if orderID <= 0 {
		return CloseResult{}, payment.ErrMissingOrderID
	}
	list, err := a.payments.ListOrderPayments(ctx, orderID)
	if err != nil {
		return CloseResult{}, err
	}
	var res CloseResult
	var failed error
	for _, p := range list {
		if p.Status != payment.StatusWaiting {
			continue
		}
		ch, err := a.channel(p.Channel)
		if err != nil {
			return CloseResult{}, err
		}
		err = a.closeAtProvider(ctx, p, ch, payment.CloseOrderClosing)
		switch {
		case errors.Is(err, ErrTradePaid):
		case err != nil:
			a.log.Warn("close at provider failed", "payment_id", p.ID, "order_id", orderID, "err", err)
			failed = errors.Join(failed, err)
			continue
		}
		now, err := a.payments.GetPayment(ctx, p.ID)
		if err != nil {
			return CloseResult{}, err
		}
		if now.Status == payment.StatusClosed {
			res.Closed = append(res.Closed, now)
		}
	}
	// Report a paid attempt whether this call or an earlier notify recorded it.
	list, err = a.payments.ListOrderPayments(ctx, orderID)
	if err != nil {
		return CloseResult{}, err
	}
	for _, p := range list {
		if p.Status == payment.StatusSucceeded && p.RefundingFen == 0 && p.RefundedFen == 0 {
			res.Paid = p
			break
		}
	}
	if failed != nil && res.Paid == nil {
		return res, fmt.Errorf("close payments of order %d: %w: %w", orderID, ErrProviderUnavailable, failed)
	}
	return res, nil
}
