package order

import (
	"fmt"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
)

// Cancel moves an unpaid order to CANCELLED. Anything else is ErrNotCancellable (ErrWasPaid
// when money arrived), so a second cancel changes nothing and stock is released once.
func (o *Order) Cancel(reason string, now time.Time) error {
	switch o.Status {
	case StatusPendingPayment:
	case StatusPaid, StatusRefunding, StatusRefunded:
		return fmt.Errorf("order %d is %s: %w: %w", o.ID, o.Status, ErrNotCancellable, ErrWasPaid)
	default:
		return fmt.Errorf("order %d is %s: %w", o.ID, o.Status, ErrNotCancellable)
	}
	if reason == "" {
		reason = ReasonUserCancelled
	}
	o.Status = StatusCancelled
	o.CancelledAt = now.UTC().Truncate(time.Microsecond)
	o.CancelReason = reason
	return nil
}

// MarkPaid records the payment that paid the order. The same payment again is a no-op, so
// the payment side may retry; another payment on a paid order is ErrAlreadyPaid and a payment
// on a cancelled order is ErrCancelled (the caller refunds either).
func (o *Order) MarkPaid(paymentID int64, amount money.Fen, paidAt time.Time) error {
	if paymentID <= 0 {
		return ErrMissingPaymentID
	}
	switch o.Status {
	case StatusPendingPayment:
		if amount != o.Total {
			return fmt.Errorf("order %d total %d fen, payment %d fen: %w", o.ID, o.Total, amount, ErrAmountMismatch)
		}
		o.Status = StatusPaid
		o.PaymentID = paymentID
		o.PaidAt = paidAt.UTC().Truncate(time.Microsecond)
		return nil
	case StatusPaid, StatusRefunding, StatusRefunded:
		if paymentID != o.PaymentID {
			return fmt.Errorf("order %d paid by payment %d: %w", o.ID, o.PaymentID, ErrAlreadyPaid)
		}
		if amount != o.Total {
			return fmt.Errorf("order %d total %d fen, payment %d fen: %w", o.ID, o.Total, amount, ErrAmountMismatch)
		}
		return nil
	default:
		return fmt.Errorf("order %d: %w", o.ID, ErrCancelled)
	}
}

// RefundsPayment refuses a refund that names another payment than the one that paid the order;
// 0 (a caller that names none) is accepted.
func (o *Order) RefundsPayment(paymentID int64) error {
	if paymentID != 0 && paymentID != o.PaymentID {
		return fmt.Errorf("order %d was paid by payment %d, not %d: %w", o.ID, o.PaymentID, paymentID, ErrRefundOtherPayment)
	}
	return nil
}

// BeginRefund marks a refund of amount as in flight. The same refund again is a no-op.
func (o *Order) BeginRefund(refundID int64, amount money.Fen) error {
	if refundID <= 0 {
		return ErrMissingRefundID
	}
	switch o.Status {
	case StatusPaid:
		if amount <= 0 || amount > o.Total-o.RefundedFen {
			return fmt.Errorf("order %d: %d fen paid, %d refunded, asked %d: %w", o.ID, o.Total, o.RefundedFen, amount, ErrRefundAmount)
		}
		o.Status = StatusRefunding
		o.RefundingID = refundID
		return nil
	case StatusRefunding:
		if refundID == o.RefundingID {
			return nil
		}
		return fmt.Errorf("order %d refund %d: %w", o.ID, o.RefundingID, ErrRefundInFlight)
	default:
		return fmt.Errorf("order %d is %s: %w", o.ID, o.Status, ErrNotRefundable)
	}
}

// FinishRefund records a settled refund with the running total refunded for the order:
// REFUNDED once the whole total is back, else PAID again with RefundedFen updated.
// Totals only grow, which makes a replayed or late report a no-op. A settled refund is also
// accepted on a PAID order whose BeginRefund was never seen (the payment result says so).
func (o *Order) FinishRefund(refundID int64, refundedTotal money.Fen, at time.Time) error {
	if refundID <= 0 {
		return ErrMissingRefundID
	}
	if refundedTotal < 0 || refundedTotal > o.Total {
		return fmt.Errorf("order %d total %d fen, refunded %d: %w", o.ID, o.Total, refundedTotal, ErrRefundAmount)
	}
	switch o.Status {
	case StatusRefunded:
		return nil
	case StatusPaid, StatusRefunding:
	default:
		return fmt.Errorf("order %d is %s: %w", o.ID, o.Status, ErrNotRefundable)
	}
	if refundedTotal <= o.RefundedFen && !(o.Status == StatusRefunding && refundID == o.RefundingID) {
		return nil // already recorded
	}
	if refundedTotal > o.RefundedFen {
		o.RefundedFen = refundedTotal
		o.RefundedAt = at.UTC().Truncate(time.Microsecond)
	}
	switch {
	case o.RefundedFen == o.Total:
		o.Status = StatusRefunded
		o.RefundingID = 0
	case o.Status == StatusRefunding && refundID == o.RefundingID:
		o.Status = StatusPaid
		o.RefundingID = 0
	}
	return nil
}

// NoteLateRefund records on a cancelled order that a payment which arrived after the cancel
// was refunded (the payment side does that on its own), so the order shows where the money
// went. The order stays CANCELLED; the first such payment is the one shown.
func (o *Order) NoteLateRefund(paymentID int64, refunded money.Fen, at time.Time) error {
	if paymentID <= 0 {
		return ErrMissingPaymentID
	}
	if o.Status != StatusCancelled {
		return fmt.Errorf("order %d is %s: %w", o.ID, o.Status, ErrNotRefundable)
	}
	if refunded <= 0 || refunded > o.Total {
		return fmt.Errorf("order %d total %d fen, late payment refunded %d: %w", o.ID, o.Total, refunded, ErrRefundAmount)
	}
	if (o.PaymentID != 0 && o.PaymentID != paymentID) || refunded <= o.RefundedFen {
		return nil
	}
	o.PaymentID = paymentID
	o.RefundedFen = refunded
	o.RefundedAt = at.UTC().Truncate(time.Microsecond)
	return nil
}
