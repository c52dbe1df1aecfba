package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// pollTrade asks the provider about a WAITING attempt (a lost notify costs minutes, not money),
// and closes the trade at the provider once it is past its expiry.
func (a *App) pollTrade(ctx context.Context, paymentID int64, attempt int) error {
	p, err := a.payments.GetPayment(ctx, paymentID)
	if errors.Is(err, payment.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	ch, err := a.channel(p.Channel)
	if err != nil {
		return err
	}
	switch p.Status {
	case payment.StatusWaiting:
	case payment.StatusClosed:
		return a.watchClosed(ctx, p, ch, attempt)
	default:
		return nil
	}
	t, err := ch.Query(ctx, p.OutTradeNo)
	if err != nil {
		return err
	}
	switch {
	case t.State.Paid():
		_, err := a.recordPaid(ctx, p, t, "poll", nil)
		return mismatchHandled(err)
	case t.State == TradeClosed:
		return a.recordClosed(ctx, p.ID, payment.CloseByProvider, false)
	}
	if !a.now().Before(p.ExpireAt) {
		err := a.closeAtProvider(ctx, p, ch, payment.CloseExpired)
		switch {
		case errors.Is(err, ErrTradePaid):
			return nil
		case err != nil:
			return err
		}
		return retryAt{at: a.now().Add(a.pollDelay(0))} // watched until the provider confirms the close
	}
	next := a.now().Add(a.pollDelay(attempt))
	if next.After(p.ExpireAt) {
		next = p.ExpireAt
	}
	return retryAt{at: next}
}

// lateScanMargin is how long past its expiry a closed attempt is still watched (clock skew, a
// payment in flight at the expiry); it scales with PAYMENT_POLL_SCALE like the poll schedule.
const lateScanMargin = 2 * time.Minute

// watchClosed keeps asking about an attempt we closed until the provider confirms the close or
// the trade's own expiry (+ lateScanMargin) has passed. Alipay answers the close of a precreate
// trade nobody has scanned yet with ACQ.TRADE_NOT_EXIST and closes nothing: the buyer can still
// scan and pay that QR until its time_expire. Found paid, it takes the notify's path (recordPaid);
// an order cancelled meanwhile refuses it and it is refunded automatically (ORDER_CANCELLED).
func (a *App) watchClosed(ctx context.Context, p *payment.Payment, ch Channel, attempt int) error {
	t, err := ch.Query(ctx, p.OutTradeNo)
	if err != nil {
		return err
	}
	switch {
	case t.State.Paid():
		_, err := a.recordPaid(ctx, p, t, "poll after close", nil)
		return mismatchHandled(err)
	case t.State == TradeClosed:
		return nil // confirmed: nobody can pay it any more
	case t.ProviderTradeNo != "":
		// The provider knows the trade now (scanned since our close): close it for real. The next
		// query reads the outcome, closed or paid.
		if err := ch.Close(ctx, p.OutTradeNo); err != nil && !errors.Is(err, ErrTradePaid) {
			return err
		}
		return retryAt{at: a.now()}
	}
	until := p.ExpireAt.Add(time.Duration(float64(lateScanMargin) * a.cfg.PollScale))
	if !a.now().Before(until) {
		return nil // expired at the provider too: unpayable
	}
	next := a.now().Add(a.pollDelay(attempt))
	if next.After(until) {
		next = until
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
		_, err := a.recordPaid(ctx, p, t, "close", nil)
		if errors.Is(err, errMismatchRecorded) {
			return nil // closed AMOUNT_MISMATCH: not paid for the order, its money goes back
		}
		if err != nil {
			return err
		}
		return ErrTradePaid
	}
	if err != nil {
		return err
	}
	return a.recordClosed(ctx, p.ID, reason, true)
}

// recordClosed marks the attempt CLOSED. watch leaves its poll task on its schedule (a WAITING
// attempt always has one), so watchClosed checks that the close we asked for took effect; a
// close the provider reported itself ends the polling.
func (a *App) recordClosed(ctx context.Context, paymentID int64, reason string, watch bool) error {
	now := a.now()
	err := a.payments.UpdatePayment(ctx, paymentID, func(p *payment.Payment, ch *Changes) error {
		if err := p.Close(reason, now); err != nil {
			return err
		}
		if !watch {
			ch.DoneTasks = append(ch.DoneTasks, Task{Kind: TaskPollTrade, RefID: p.ID})
		}
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

// mismatchHandled: a recorded amount mismatch ends the polling of that attempt.
func mismatchHandled(err error) error {
	if errors.Is(err, errMismatchRecorded) {
		return nil
	}
	return err
}
