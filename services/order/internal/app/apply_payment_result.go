package app

import (
	"context"
	"errors"
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

// ApplyPaymentResult makes the order follow its payment even when the payment service's direct
// MarkOrderPaid/FinishRefund call never arrived. A cancelled order shows the refund of a payment
// that arrived after the cancel. What the direct call would have refused (a
// second payment, a payment on a cancelled order) is the payment side's to refund, so it is
// acknowledged here and changes nothing; an amount that does not match is returned as an error.
func (a *App) ApplyPaymentResult(ctx context.Context, r PaymentResult) error {
	var err error
	switch r.Type {
	case PaymentSucceeded:
		_, err = a.MarkOrderPaid(ctx, r.OrderID, r.PaymentID, r.Amount, r.At)
		if errors.Is(err, order.ErrAlreadyPaid) || errors.Is(err, order.ErrCancelled) {
			a.log.Info("payment for an order paid otherwise or cancelled; the payment side refunds it",
				"order_id", r.OrderID, "payment_id", r.PaymentID, "why", err.Error())
			return nil
		}
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
