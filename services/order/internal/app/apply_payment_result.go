package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// PaymentResultType is what happened to a payment.
type PaymentResultType int

const (
	PaymentSucceeded PaymentResultType = iota + 1
	PaymentClosed
	PaymentRefunded
)

// PaymentResult is one payment state change published by the payment service.
type PaymentResult struct {
	Type          PaymentResultType
	OrderID       int64
	PaymentID     int64
	Amount        money.Fen
	RefundID      int64
	RefundedTotal money.Fen
	At            time.Time
}

// Why an order refuses a payment: the payment service refunds it with this reason (the
// payment side's names, payment.Reason*).
const (
	RefusedOrderCancelled   = "ORDER_CANCELLED"   // the payment arrived for a cancelled order
	RefusedDuplicatePayment = "DUPLICATE_PAYMENT" // the order was paid by another payment
	RefusedByOrder          = "ORDER_REFUSED"     // still unpaid, but not by this payment (its amount), or no such order
)

// ApplyPaymentResult makes the order follow its payment: this consumer is the one way "paid"
// reaches the order (the payment service has no other carrier). A success the order refuses —
// a payment on a cancelled order, a second payment, an amount that is not the order's — is
// answered with an EventPaymentRefused in the same transaction (the consumer's, with its
// processed-message row), which the payment service consumes to refund that payment; so the
// refusal is durable exactly when the result was consumed. A success of another amount for the
// payment that already paid the order is returned as an error (parked for a person).
func (a *App) ApplyPaymentResult(ctx context.Context, r PaymentResult) error {
	var err error
	switch r.Type {
	case PaymentSucceeded:
		return a.applyPaymentSucceeded(ctx, r)
	case PaymentRefunded:
		o, gerr := a.orders.Get(ctx, r.OrderID)
		if gerr != nil {
			err = gerr
			break
		}
		switch {
		case o.Status == order.StatusCancelled: // a payment that came after the cancel, refunded
			_, err = a.orders.Update(ctx, r.OrderID, func(o *order.Order) error {
				return o.NoteLateRefund(r.PaymentID, r.RefundedTotal, r.At)
			})
		case o.PaymentID != r.PaymentID:
			return nil // the refund of a duplicate payment: not this order's money
		default:
			_, err = a.FinishRefund(ctx, r.OrderID, r.RefundID, r.PaymentID, r.RefundedTotal, r.At)
		}
	default:
		return nil // CLOSED: the order side decided that itself
	}
	if errors.Is(err, order.ErrNotFound) {
		a.log.Warn("payment result for an unknown order", "order_id", r.OrderID, "payment_id", r.PaymentID)
		return nil
	}
	return err
}

func (a *App) applyPaymentSucceeded(ctx context.Context, r PaymentResult) error {
	if r.PaymentID <= 0 {
		return order.ErrMissingPaymentID
	}
	at := r.At
	if at.IsZero() {
		at = a.now()
	}
	reason := ""
	_, err := a.orders.Update(ctx, r.OrderID, func(o *order.Order) error {
		err := o.MarkPaid(r.PaymentID, r.Amount, at)
		switch {
		case errors.Is(err, order.ErrCancelled):
			reason = RefusedOrderCancelled
		case errors.Is(err, order.ErrAlreadyPaid):
			reason = RefusedDuplicatePayment
		case errors.Is(err, order.ErrAmountMismatch) && o.Status == order.StatusPendingPayment:
			reason = RefusedByOrder
		}
		return err
	})
	if errors.Is(err, order.ErrNotFound) {
		reason = RefusedByOrder
	}
	if reason == "" {
		return err
	}
	a.log.Warn("order refused a payment; the payment service refunds it", "order_id", r.OrderID,
		"payment_id", r.PaymentID, "reason", reason, "why", err.Error())
	if a.outbox == nil {
		return fmt.Errorf("order %d refused payment %d (%s) with no outbox to say so", r.OrderID, r.PaymentID, reason)
	}
	return a.outbox.Add(ctx, Event{Type: EventPaymentRefused, OrderID: r.OrderID, PaymentID: r.PaymentID,
		Amount: r.Amount, Reason: reason, Detail: err.Error(), At: a.now()})
}
