package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// SyncPayment is the operator's "ask the provider now" (`paysuite payment sync`): the poll of
// one attempt, run at once instead of at its next scheduled time. The provider's answer goes
// through the doors polling uses — paid: recordPaid, the one door for "buyer paid" (the order
// then follows the PAYMENT_SUCCEEDED event, as after any notify); closed by the provider: recordClosed —
// so a sync can do nothing a poll could not. A payment already SUCCEEDED or REFUNDED is
// answered as it is, without asking; an attempt we closed is asked about (a closed Alipay
// precreate trade may still have been paid, see watchClosed). A WAITING attempt past its
// expiry is left to polling to close: a sync only reads the provider. The provider not
// answering is ErrProviderUnavailable (nothing changed; polling keeps asking).
//
// Operators only: the gRPC policy lets nobody but admin call it, and an end user admin speaks
// for is refused too.
func (a *App) SyncPayment(ctx context.Context, who principal.Caller, id int64) (*payment.Payment, error) {
	if who.User != nil {
		return nil, ErrOperatorOnly
	}
	if id <= 0 {
		return nil, payment.ErrMissingPaymentID
	}
	p, err := a.payments.GetPayment(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Status != payment.StatusWaiting && p.Status != payment.StatusClosed {
		return p, nil
	}
	ch, err := a.channel(p.Channel)
	if err != nil {
		return nil, err
	}
	t, err := ch.Query(ctx, p.OutTradeNo)
	if err != nil {
		return nil, fmt.Errorf("query payment %d at the provider: %w: %w", p.ID, ErrProviderUnavailable, err)
	}
	switch {
	case t.State.Paid():
		recorded, err := a.recordPaid(ctx, p, t, "sync", nil)
		if err != nil && !errors.Is(err, errMismatchRecorded) {
			return nil, err
		}
		a.log.Info("payment synced with the provider", "payment_id", p.ID, "provider_state", "paid", "recorded", recorded,
			"amount_mismatch", err != nil)
	case t.State == TradeClosed && p.Status == payment.StatusWaiting:
		if err := a.recordClosed(ctx, p.ID, payment.CloseByProvider, false); err != nil {
			return nil, err
		}
		a.log.Info("payment synced with the provider", "payment_id", p.ID, "provider_state", "closed")
	default:
		return p, nil // the provider agrees: nothing to record
	}
	return a.payments.GetPayment(ctx, p.ID)
}

// SyncRefund is the operator's "ask the provider now" for a refund (`paysuite refund sync`): the
// refund task's own run (advanceRefund), at once instead of at the next check of the refund
// schedule. A PROCESSING refund is queried (or submitted again with the same out_refund_no, if
// the provider never took it) and settled or failed through applyRefundState, the one door for
// what a provider says about a refund; the order is then told, as by the task. A refund that is
// settled and whose order knows is answered as it is, without asking. Still processing at the
// provider, it is answered PROCESSING; its task keeps its schedule.
func (a *App) SyncRefund(ctx context.Context, who principal.Caller, id int64) (*payment.Refund, error) {
	if who.User != nil {
		return nil, ErrOperatorOnly
	}
	if id <= 0 {
		return nil, payment.ErrMissingRefundID
	}
	if _, err := a.refunds.GetRefund(ctx, id); err != nil {
		return nil, err
	}
	var later retryAt
	if err := a.advanceRefund(ctx, id); err != nil && !errors.As(err, &later) && !errors.Is(err, ErrOrderRefused) {
		return nil, err
	}
	return a.refunds.GetRefund(ctx, id)
}
