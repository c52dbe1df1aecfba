package app

import (
	"context"
	"errors"
	"testing"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

func TestRefundRefusedPayment(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payment *payment.Payment
		refusal RefusedPayment
		wantErr error
		refund  string // the reason of the one automatic refund, "" for none
	}{
		{name: "a cancelled order refused it: refunded as ORDER_CANCELLED",
			payment: attempt(payment.StatusSucceeded),
			refusal: RefusedPayment{OrderID: 10, PaymentID: 1, Reason: payment.ReasonOrderCancelled},
			refund:  payment.ReasonOrderCancelled},
		{name: "an order paid by another payment refused it: refunded as DUPLICATE_PAYMENT",
			payment: attempt(payment.StatusSucceeded),
			refusal: RefusedPayment{OrderID: 10, PaymentID: 1, Reason: payment.ReasonDuplicatePayment},
			refund:  payment.ReasonDuplicatePayment},
		{name: "an unpaid order refused its amount: refunded as ORDER_REFUSED",
			payment: attempt(payment.StatusSucceeded),
			refusal: RefusedPayment{OrderID: 10, PaymentID: 1, Reason: payment.ReasonOrderRefused},
			refund:  payment.ReasonOrderRefused},
		{name: "a reason we do not know: still refunded, as ORDER_REFUSED",
			payment: attempt(payment.StatusSucceeded),
			refusal: RefusedPayment{OrderID: 10, PaymentID: 1, Reason: "SOMETHING_NEW"},
			refund:  payment.ReasonOrderRefused},
		{name: "a refusal naming another order: refused, nothing refunded",
			payment: attempt(payment.StatusSucceeded),
			refusal: RefusedPayment{OrderID: 11, PaymentID: 1, Reason: payment.ReasonOrderCancelled},
			wantErr: ErrRefusalMismatch},
		{name: "a refusal of a payment that never succeeded: refused, nothing refunded",
			payment: attempt(payment.StatusWaiting),
			refusal: RefusedPayment{OrderID: 10, PaymentID: 1, Reason: payment.ReasonOrderCancelled},
			wantErr: ErrRefusalMismatch},
		{name: "a payment we do not know: not found",
			payment: attempt(payment.StatusSucceeded),
			refusal: RefusedPayment{OrderID: 10, PaymentID: 2, Reason: payment.ReasonOrderCancelled},
			wantErr: payment.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(tc.payment)
			a := newTestApp(store, &fakeOrders{}, &fakeChannel{})

			err := a.RefundRefusedPayment(context.Background(), tc.refusal)

			if tc.wantErr != nil != (err != nil) || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
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
			if p := store.payment(1); p.RefundingFen != 9900 || store.tasksOf(TaskRefund, r.ID) != 1 {
				t.Fatalf("refund %d: %d fen reserved, %d refund tasks", r.ID, p.RefundingFen, store.tasksOf(TaskRefund, r.ID))
			}
		})
	}
}

func TestARefusalTwiceRefundsOnce(t *testing.T) {
	store := newStore(attempt(payment.StatusSucceeded))
	a := newTestApp(store, &fakeOrders{}, &fakeChannel{})
	for range 2 { // a redelivery whose processed-message row did not commit, or a second refusal
		if err := a.RefundRefusedPayment(context.Background(), RefusedPayment{OrderID: 10, PaymentID: 1,
			Reason: payment.ReasonOrderCancelled}); err != nil {
			t.Fatal(err)
		}
	}
	if refunds := store.refundsOf(1); len(refunds) != 1 {
		t.Fatalf("%d refunds of one payment the order refused, want 1", len(refunds))
	}
}
