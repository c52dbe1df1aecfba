package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// markOrderPaid tells the order service (idempotent for the same payment). If the order refuses
// the payment for good — cancelled, or paid by another attempt — the money goes back to the buyer.
// It runs only the mark-order-paid task rows that a release before the order's refusals left
// in the database (recordPaid no longer writes any): after an upgrade they finish as before.
func (a *App) markOrderPaid(ctx context.Context, paymentID int64) error {
	p, err := a.payments.GetPayment(ctx, paymentID)
	if err != nil {
		return err
	}
	if p.Status != payment.StatusSucceeded && p.Status != payment.StatusRefunded {
		return nil
	}
	err = a.orders.MarkOrderPaid(ctx, p.OrderID, p.ID, p.Amount, p.PaidAt)
	if err == nil {
		a.log.Info("order marked paid", "order_id", p.OrderID, "payment_id", p.ID)
		return nil
	}
	if !errors.Is(err, ErrOrderRefused) {
		return err
	}
	reason := payment.ReasonOrderCancelled
	o, gerr := a.orders.GetOrder(ctx, p.OrderID)
	switch {
	case gerr != nil && !errors.Is(gerr, payment.ErrOrderNotFound):
		return fmt.Errorf("order refused payment %d (%v); reading it: %w", p.ID, err, gerr)
	case gerr == nil && o.Status != OrderCancelled && o.PaymentID != 0 && o.PaymentID != p.ID:
		reason = payment.ReasonDuplicatePayment
	case gerr == nil && o.Status == OrderPendingPayment:
		// Refused while still awaiting payment (e.g. amount mismatch): never keep the money.
		reason = payment.ReasonOrderRefused
	}
	a.log.Warn("order refused the payment; refunding it automatically", "order_id", p.OrderID, "payment_id", p.ID,
		"reason", reason, "err", err)
	return a.autoRefund(ctx, p.ID, reason)
}

// autoRequestID is the request id of a payment's one automatic refund; clients cannot use it.
const autoRequestID = "auto"

// autoRefund refunds everything still refundable of a payment the order did not take; one per
// payment (request id autoRequestID), recorded and published like any refund.
func (a *App) autoRefund(ctx context.Context, paymentID int64, reason string) error {
	now := a.now()
	var created *payment.Refund
	err := a.payments.UpdatePayment(ctx, paymentID, func(p *payment.Payment, ch *Changes) error {
		left := p.Refundable()
		if left <= 0 {
			return nil
		}
		id := a.newID()
		r, err := payment.NewRefund(id, p, left, reason, autoRequestID, fmt.Sprintf("RF%d", id), true, now)
		if err != nil {
			return err
		}
		if err := p.ReserveRefund(left, now); err != nil {
			return err
		}
		ch.NewRefund = r
		ch.Tasks = append(ch.Tasks, Task{Kind: TaskRefund, RefID: id, RunAt: now})
		created = r
		return nil
	})
	if err != nil {
		if existing, ferr := a.refunds.FindRefund(ctx, paymentID, autoRequestID); ferr == nil {
			a.log.Info("automatic refund already exists", "payment_id", paymentID, "refund_id", existing.ID)
			return nil
		}
		return err
	}
	if created != nil {
		a.log.Warn("automatic refund started", "payment_id", paymentID, "refund_id", created.ID,
			"amount_fen", int64(created.Amount), "reason", reason)
		a.Wake()
	}
	return nil
}
