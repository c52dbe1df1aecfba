package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// pollTrade asks the provider about a WAITING attempt (a lost notify costs minutes, not money),
// and closes the trade at the provider once it is past its expiry.
func (a *App) pollTrade(ctx context.Context, paymentID int64, attempt int) error {
	p, err := a.repo.GetPayment(ctx, paymentID)
	if errors.Is(err, payment.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if p.Status != payment.StatusWaiting {
		return nil
	}
	ch, err := a.channel(p.Channel)
	if err != nil {
		return err
	}
	t, err := ch.Query(ctx, p.OutTradeNo)
	if err != nil {
		return err
	}
	switch {
	case t.State.Paid():
		if t.Amount != p.Amount {
			a.log.Error("provider reports a paid amount that is not our trade's", "payment_id", p.ID,
				"provider_fen", int64(t.Amount), "ours_fen", int64(p.Amount))
			return fmt.Errorf("payment %d: %w", p.ID, errAmountMismatch)
		}
		_, err := a.recordPaid(ctx, p, t, "poll", nil)
		return err
	case t.State == TradeClosed:
		return a.recordClosed(ctx, p.ID, payment.CloseByProvider)
	}
	if !a.now().Before(p.ExpireAt) {
		if err := a.closeAtProvider(ctx, p, ch, payment.CloseExpired); !errors.Is(err, ErrTradePaid) {
			return err
		}
		return nil
	}
	next := a.now().Add(a.pollDelay(attempt))
	if next.After(p.ExpireAt) {
		next = p.ExpireAt
	}
	return retryAt{at: next}
}

// closeAtProvider closes the trade; if the provider says it was paid, a verified query takes
// the same path as a notify. paid reports that case.
func (a *App) closeAtProvider(ctx context.Context, p *payment.Payment, ch Channel, reason string) error {
	err := ch.Close(ctx, p.OutTradeNo)
	if errors.Is(err, ErrTradePaid) {
		t, qerr := ch.Query(ctx, p.OutTradeNo)
		if qerr != nil {
			return qerr
		}
		if !t.State.Paid() {
			return fmt.Errorf("close of %s said paid, query says state %d", p.OutTradeNo, t.State)
		}
		if t.Amount != p.Amount {
			return fmt.Errorf("payment %d: provider paid %d fen: %w", p.ID, t.Amount, errAmountMismatch)
		}
		_, err := a.recordPaid(ctx, p, t, "close", nil)
		if err != nil {
			return err
		}
		return ErrTradePaid
	}
	if err != nil {
		return err
	}
	return a.recordClosed(ctx, p.ID, reason)
}

func (a *App) recordClosed(ctx context.Context, paymentID int64, reason string) error {
	now := a.now()
	err := a.repo.UpdatePayment(ctx, paymentID, func(p *payment.Payment, ch *Changes) error {
		if err := p.Close(reason, now); err != nil {
			return err
		}
		ch.DoneTasks = append(ch.DoneTasks, Task{Kind: TaskPollTrade, RefID: p.ID})
		ch.Events = append(ch.Events, a.event(EventClosed, p, nil, reason))
		return nil
	})
	if errors.Is(err, payment.ErrNotWaiting) || errors.Is(err, payment.ErrAlreadySucceeded) {
		return nil // closed already, or paid meanwhile (recorded by its own path)
	}
	if err == nil {
		a.log.Info("payment closed", "payment_id", paymentID, "reason", reason)
		a.eventsCommitted()
	}
	return err
}
