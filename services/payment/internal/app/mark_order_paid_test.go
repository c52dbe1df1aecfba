package app

import (
	"context"
	"errors"
	"testing"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

func TestMarkOrderPaidOrRefundAutomatically(t *testing.T) {
	orderOf := func(st OrderStatus, paidBy int64) Order {
		return Order{ID: 10, Status: st, Total: 9900, PaymentID: paidBy}
	}
	for _, tc := range []struct {
		name    string
		payment *payment.Payment
		orders  fakeOrders
		setup   func(*memStore)
		wantErr bool
		told    bool   // the order service was told of the payment
		refund  string // the reason of the one automatic refund, "" for none
	}{
		{name: "the order takes the payment",
			payment: attempt(payment.StatusSucceeded), orders: fakeOrders{order: orderOf(OrderPaid, 1)}, told: true},
		{name: "an attempt that is not paid is not reported",
			payment: attempt(payment.StatusWaiting), orders: fakeOrders{order: orderOf(OrderPendingPayment, 0)}},
		{name: "the order service is down: retried, nothing refunded",
			payment: attempt(payment.StatusSucceeded), orders: fakeOrders{markErr: errors.New("unavailable")},
			wantErr: true, told: true},
		{name: "a cancelled order refuses it: refunded as ORDER_CANCELLED",
			payment: attempt(payment.StatusSucceeded),
			orders:  fakeOrders{markErr: ErrOrderRefused, order: orderOf(OrderCancelled, 0)},
			told:    true, refund: payment.ReasonOrderCancelled},
		{name: "a late payment on an order cancelled after another paid it: ORDER_CANCELLED",
			payment: attempt(payment.StatusSucceeded),
			orders:  fakeOrders{markErr: ErrOrderRefused, order: orderOf(OrderCancelled, 2)},
			told:    true, refund: payment.ReasonOrderCancelled},
		{name: "an order paid by another attempt refuses it: refunded as DUPLICATE_PAYMENT",
			payment: attempt(payment.StatusSucceeded),
			orders:  fakeOrders{markErr: ErrOrderRefused, order: orderOf(OrderPaid, 2)},
			told:    true, refund: payment.ReasonDuplicatePayment},
		{name: "an unpaid order refuses it (its amount): refunded as ORDER_REFUSED",
			payment: attempt(payment.StatusSucceeded),
			orders:  fakeOrders{markErr: ErrOrderRefused, order: orderOf(OrderPendingPayment, 0)},
			told:    true, refund: payment.ReasonOrderRefused},
		{name: "an order the service does not know: refunded as ORDER_CANCELLED",
			payment: attempt(payment.StatusSucceeded),
			orders:  fakeOrders{markErr: ErrOrderRefused, getErr: payment.ErrOrderNotFound},
			told:    true, refund: payment.ReasonOrderCancelled},
		{name: "refused, then the order cannot be read: retried, nothing refunded",
			payment: attempt(payment.StatusSucceeded),
			orders:  fakeOrders{markErr: ErrOrderRefused, getErr: errors.New("unavailable")},
			wantErr: true, told: true},
		{name: "refused but already refunded in full: nothing more to give back",
			payment: func() *payment.Payment { p := attempt(payment.StatusRefunded); p.RefundedFen = p.Amount; return p }(),
			orders:  fakeOrders{markErr: ErrOrderRefused, order: orderOf(OrderCancelled, 0)}, told: true},
		{name: "another instance's automatic refund wins the race: still one refund",
			payment: attempt(payment.StatusSucceeded),
			orders:  fakeOrders{markErr: ErrOrderRefused, order: orderOf(OrderCancelled, 0)},
			setup: func(s *memStore) {
				s.rivalRefund = &payment.Refund{ID: 77, PaymentID: 1, OrderID: 10, Amount: 9900, RequestID: autoRequestID,
					Reason: payment.ReasonOrderCancelled, Auto: true, Status: payment.RefundProcessing}
			},
			told: true, refund: payment.ReasonOrderCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(tc.payment)
			if tc.setup != nil {
				tc.setup(store)
			}
			orders := tc.orders
			a := newTestApp(store, &orders, &fakeChannel{})

			err := a.markOrderPaid(context.Background(), 1)

			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tc.wantErr)
			}
			if told := len(orders.marked) == 1 && orders.marked[0] == 1; told != tc.told || len(orders.marked) > 1 {
				t.Fatalf("order told of payments %v, want told=%v", orders.marked, tc.told)
			}
			refunds := store.refundsOf(1)
			if tc.refund == "" {
				if len(refunds) != 0 {
					t.Fatalf("refunds %+v, want none", refunds)
				}
				return
			}
			if len(refunds) != 1 {
				t.Fatalf("%d refunds, want one automatic refund", len(refunds))
			}
			r := refunds[0]
			if r.Reason != tc.refund || !r.Auto || r.RequestID != autoRequestID || r.Amount != 9900 {
				t.Fatalf("refund %+v, want an automatic %s refund of all 9900 fen", r, tc.refund)
			}
			if r.ID != 77 { // ours, not the rival's: its money is reserved and its task scheduled
				if p := store.payment(1); p.RefundingFen != 9900 || store.tasksOf(TaskRefund, r.ID) != 1 {
					t.Fatalf("refund %d: %d fen reserved, %d refund tasks", r.ID, p.RefundingFen, store.tasksOf(TaskRefund, r.ID))
				}
			}
		})
	}
}

func TestMarkOrderPaidTwiceRefundsOnce(t *testing.T) {
	store := newStore(attempt(payment.StatusSucceeded))
	orders := &fakeOrders{markErr: ErrOrderRefused, order: Order{ID: 10, Status: OrderCancelled, Total: 9900}}
	a := newTestApp(store, orders, &fakeChannel{})
	for range 2 { // the task runs again after a crash, or two instances run it
		if err := a.markOrderPaid(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if refunds := store.refundsOf(1); len(refunds) != 1 {
		t.Fatalf("%d refunds of one payment the order refused, want 1", len(refunds))
	}
}
