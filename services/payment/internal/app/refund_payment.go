package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// RefundPayment refunds part or all of a succeeded payment, idempotent on requestID. The amount
// is reserved under the payment's row lock, so concurrent refunds can never together exceed
// what was paid; the provider call and the order bookkeeping run from a durable task.
// Refunds are merchant staff's (ErrMerchantOnly for a customer, whoever paid).
func (a *App) RefundPayment(ctx context.Context, who principal.Caller, paymentID int64, amount money.Fen, reason, requestID string) (*payment.Refund, error) {
	if !who.IsMerchant() {
		return nil, payment.ErrMerchantOnly
	}
	if paymentID <= 0 {
		return nil, payment.ErrMissingPaymentID
	}
	if amount <= 0 {
		return nil, payment.ErrRefundAmount
	}
	if requestID == "" || len(requestID) > 64 || requestID == autoRequestID {
		return nil, payment.ErrMissingRequestID
	}
	if existing, err := a.findRefund(ctx, paymentID, requestID, amount); existing != nil || err != nil {
		return existing, err
	}
	now := a.now()
	var created *payment.Refund
	err := a.payments.UpdatePayment(ctx, paymentID, func(p *payment.Payment, ch *Changes) error {
		id := a.newID()
		r, err := payment.NewRefund(id, p, amount, reason, requestID, fmt.Sprintf("RF%d", id), false, now)
		if err != nil {
			return err
		}
		if err := p.ReserveRefund(amount, now); err != nil {
			return err
		}
		ch.NewRefund = r
		// The task takes over if the work below is interrupted (a race with it is harmless:
		// every step is idempotent).
		ch.Tasks = append(ch.Tasks, Task{Kind: TaskRefund, RefID: id, RunAt: a.nextRefundCheck(now, now)})
		created = r
		return nil
	})
	if err != nil {
		// A concurrent twin won the unique (payment_id, request_id) index: answer with its refund.
		if existing, ferr := a.findRefund(ctx, paymentID, requestID, amount); existing != nil || ferr != nil {
			return existing, ferr
		}
		return nil, err
	}
	a.log.Info("refund requested", "refund_id", created.ID, "payment_id", paymentID, "order_id", created.OrderID,
		"amount_fen", int64(amount), "reason", created.Reason, "request_id", requestID)
	// Do the work now; the task (scheduled a little later) takes over if this is interrupted.
	if err := a.advanceRefund(ctx, created.ID); err != nil {
		var again retryAt
		if errors.Is(err, ErrOrderRefused) {
			return nil, err
		}
		if !errors.As(err, &again) {
			a.log.Warn("refund will be retried", "refund_id", created.ID, "err", err)
		}
	}
	return a.refunds.GetRefund(ctx, created.ID)
}

// findRefund returns the refund already made for requestID, if any.
func (a *App) findRefund(ctx context.Context, paymentID int64, requestID string, amount money.Fen) (*payment.Refund, error) {
	existing, err := a.refunds.FindRefund(ctx, paymentID, requestID)
	if errors.Is(err, payment.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if existing.Amount != amount {
		return nil, fmt.Errorf("refund %d: %w", existing.ID, payment.ErrRequestIDReused)
	}
	return existing, nil
}
