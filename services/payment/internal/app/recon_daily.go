package app

import (
	"context"
	"errors"
	"time"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// RunDailyReconciliation reconciles, on the replica holding lead, every channel's latest due
// provider days (ReconConfig.ReadyAfter after each day's end) that have no successful run yet,
// looking every ReconConfig.Every until ctx is done.
func (a *App) RunDailyReconciliation(ctx context.Context, lead Leader) error {
	t := time.NewTicker(a.cfg.Recon.Every)
	defer t.Stop()
	for {
		held, err := lead.Hold(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("reconciliation leader lock", "err", err)
		}
		if held {
			a.reconcileDue(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// reconcileDue runs the due days of every configured channel, newest first, back to
// ReconConfig.LookBack days and never before the first trade.
func (a *App) reconcileDue(ctx context.Context) {
	first, err := a.recons.FirstPaymentAt(ctx)
	if err != nil || first.IsZero() {
		return
	}
	latest := recon.DayOf(a.now().Add(-a.cfg.Recon.ReadyAfter)).Prev()
	for i, day := 0, latest; i < a.cfg.Recon.LookBack && day.End().After(first); i, day = i+1, day.Prev() {
		for _, ch := range []payment.Channel{payment.ChannelAlipayQR, payment.ChannelWechatNative} {
			src, ok := a.bills[ch]
			if !ok || ctx.Err() != nil {
				continue
			}
			prev, err := a.recons.ReconciliationOf(ctx, ch, day)
			if err == nil && prev.Status == recon.StatusSucceeded {
				continue
			}
			if err != nil && !errors.Is(err, payment.ErrNotFound) {
				a.log.Warn("daily reconciliation", "channel", ch, "bill_date", day.String(), "err", err)
				continue
			}
			if _, err := a.reconcile(ctx, ch, src, day); err != nil {
				a.log.Warn("daily reconciliation", "channel", ch, "bill_date", day.String(), "err", err)
			}
		}
	}
}
