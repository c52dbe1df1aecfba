package app

import (
	"context"
	"errors"
	"testing"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// The consumer of PAYMENT_SUCCEEDED is the one way "paid" reaches an order, so it is also the
// one place a payment is refused: every refusal leaves an EventPaymentRefused (which the payment
// service turns into the automatic refund), and nothing else does.
func TestApplyPaymentSucceeded(t *testing.T) {
	cancelled := func() *order.Order {
		o := placed(7, "u1", "r1", order.StatusCancelled, line("mug", 2))
		o.CancelReason = order.ReasonTimeout
		return o
	}
	for _, tc := range []struct {
		name      string
		stored    *order.Order
		result    PaymentResult
		wantErr   error
		status    order.Status // of order 7 afterwards
		paidBy    int64
		refusedAs string // the refusal's reason, "" for no refusal
	}{
		{name: "an unpaid order is paid by it",
			stored: placed(7, "u1", "r1", order.StatusPendingPayment, line("mug", 2)),
			result: PaymentResult{Type: PaymentSucceeded, OrderID: 7, PaymentID: 55, Amount: 2 * 4500},
			status: order.StatusPaid, paidBy: 55},
		{name: "the same payment again changes nothing and refuses nothing",
			stored: placed(7, "u1", "r1", order.StatusPaid, line("mug", 2)),
			result: PaymentResult{Type: PaymentSucceeded, OrderID: 7, PaymentID: 907, Amount: 2 * 4500},
			status: order.StatusPaid, paidBy: 907},
		{name: "a second payment of a paid order is refused as DUPLICATE_PAYMENT",
			stored: placed(7, "u1", "r1", order.StatusPaid, line("mug", 2)),
			result: PaymentResult{Type: PaymentSucceeded, OrderID: 7, PaymentID: 55, Amount: 2 * 4500},
			status: order.StatusPaid, paidBy: 907, refusedAs: RefusedDuplicatePayment},
		{name: "a payment of a cancelled order is refused as ORDER_CANCELLED",
			stored: cancelled(),
			result: PaymentResult{Type: PaymentSucceeded, OrderID: 7, PaymentID: 55, Amount: 2 * 4500},
			status: order.StatusCancelled, refusedAs: RefusedOrderCancelled},
		{name: "another amount on an unpaid order is refused as ORDER_REFUSED, the order stays unpaid",
			stored: placed(7, "u1", "r1", order.StatusPendingPayment, line("mug", 2)),
			result: PaymentResult{Type: PaymentSucceeded, OrderID: 7, PaymentID: 55, Amount: 1},
			status: order.StatusPendingPayment, refusedAs: RefusedByOrder},
		{name: "a payment of an order we do not have is refused as ORDER_REFUSED",
			stored:    placed(8, "u1", "r1", order.StatusPendingPayment, line("mug", 2)),
			result:    PaymentResult{Type: PaymentSucceeded, OrderID: 7, PaymentID: 55, Amount: 2 * 4500},
			refusedAs: RefusedByOrder},
		{name: "another amount for the payment that paid the order: an error for a person, no refund",
			stored:  placed(7, "u1", "r1", order.StatusPaid, line("mug", 2)),
			result:  PaymentResult{Type: PaymentSucceeded, OrderID: 7, PaymentID: 907, Amount: 1},
			wantErr: order.ErrAmountMismatch, status: order.StatusPaid, paidBy: 907},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orders := newOrders(map[string]int64{"mug": 8}, tc.stored)
			a := newTestApp(orders, testCatalog, nil)

			err := a.ApplyPaymentResult(context.Background(), tc.result)

			if (tc.wantErr == nil) != (err == nil) || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if o, gerr := orders.Get(context.Background(), 7); gerr == nil && (o.Status != tc.status || o.PaymentID != tc.paidBy) {
				t.Fatalf("order %s paid by %d, want %s paid by %d", o.Status, o.PaymentID, tc.status, tc.paidBy)
			}
			var refusals []Event
			for _, ev := range orders.events {
				if ev.Type == EventPaymentRefused {
					refusals = append(refusals, ev)
				}
			}
			if tc.refusedAs == "" {
				if len(refusals) != 0 {
					t.Fatalf("refusals %+v, want none", refusals)
				}
				return
			}
			if len(refusals) != 1 {
				t.Fatalf("%d refusals, want 1", len(refusals))
			}
			r := refusals[0]
			if r.Reason != tc.refusedAs || r.OrderID != 7 || r.PaymentID != 55 || r.Amount != money.Fen(tc.result.Amount) || r.Detail == "" {
				t.Fatalf("refusal %+v, want %s of payment 55 of order 7 with the order's words", r, tc.refusedAs)
			}
		})
	}
}
