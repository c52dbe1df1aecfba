package app

import (
	"context"
	"fmt"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// RefusedPayment is the order service's refusal of a payment it was told had succeeded
// (paysuite.events.v1.OrderPaymentRefused).
type RefusedPayment struct {
	OrderID, PaymentID int64
	Reason             string // payment.ReasonOrderCancelled, ReasonDuplicatePayment or ReasonOrderRefused
	Detail             string
}

// ErrRefusalMismatch: a refusal that names a payment of another order, or a payment that never
// succeeded; it can never be acted on (the consumer parks it for a person).
var ErrRefusalMismatch = fmt.Errorf("refusal does not match the payment")

// RefundRefusedPayment refunds, automatically and in full, a payment the order refused. The
// order's refusal is the only path: the success transaction writes no task for the order, the
// PaymentResult it publishes is what the order follows, and a refusal comes back here through
// the order's outbox. autoRefund is one per payment, so a redelivered refusal changes nothing.
func (a *App) RefundRefusedPayment(ctx context.Context, r RefusedPayment) error {
	p, err := a.payments.GetPayment(ctx, r.PaymentID)
	if err != nil {
		return err
	}
	if p.OrderID != r.OrderID {
		return fmt.Errorf("payment %d belongs to order %d, not %d: %w", p.ID, p.OrderID, r.OrderID, ErrRefusalMismatch)
	}
	if p.Status != payment.StatusSucceeded && p.Status != payment.StatusRefunded {
		return fmt.Errorf("payment %d is %s: %w", p.ID, p.Status, ErrRefusalMismatch)
	}
	reason := r.Reason
	switch reason {
	case payment.ReasonOrderCancelled, payment.ReasonDuplicatePayment, payment.ReasonOrderRefused:
	default:
		reason = payment.ReasonOrderRefused
	}
	a.log.Warn("order refused the payment; refunding it automatically", "order_id", p.OrderID, "payment_id", p.ID,
		"reason", reason, "detail", r.Detail)
	return a.autoRefund(ctx, p.ID, reason)
}
