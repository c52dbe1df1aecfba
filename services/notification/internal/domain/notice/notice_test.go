package notice

import (
	"errors"
	"testing"
	"time"
)

func TestMessage(t *testing.T) {
	base := Result{EventID: "e1", OrderID: 123, PaymentID: 9, UserID: "u1", Amount: 1234}
	for _, tt := range []struct {
		name string
		edit func(*Result)
		want string
	}{
		{"succeeded", func(r *Result) { r.Kind = KindSucceeded }, "Payment of ¥12.34 for order 123 succeeded"},
		{"closed", func(r *Result) { r.Kind = KindClosed }, "Payment of ¥12.34 for order 123 was closed; nothing was charged"},
		{"full refund", func(r *Result) {
			r.Kind, r.RefundAmount, r.RefundedTotal, r.FullRefund = KindRefunded, 1234, 1234, true
		},
			"Payment of ¥12.34 for order 123 was refunded in full"},
		{"partial refund", func(r *Result) { r.Kind, r.RefundAmount, r.RefundedTotal = KindRefunded, 500, 500 },
			"¥5.00 of your payment of ¥12.34 for order 123 was refunded"},
		{"last partial refund", func(r *Result) { r.Kind, r.RefundAmount, r.RefundedTotal, r.FullRefund = KindRefunded, 734, 1234, true },
			"¥7.34 of your payment of ¥12.34 for order 123 was refunded; it is now refunded in full"},
		{"auto refund", func(r *Result) {
			r.Kind, r.RefundAmount, r.FullRefund, r.Reason = KindRefunded, 1234, true, "ORDER_CANCELLED"
		}, "Payment of ¥12.34 for order 123 was refunded in full because the order had already been cancelled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.edit(&r)
			if got := Message(r); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestFromResultRejectsBadEvents(t *testing.T) {
	ok := Result{EventID: "e1", Kind: KindSucceeded, OrderID: 1, PaymentID: 2, UserID: "u"}
	for _, edit := range []func(*Result){
		func(r *Result) { r.EventID = "" },
		func(r *Result) { r.Kind = "" },
		func(r *Result) { r.UserID = "" },
		func(r *Result) { r.OrderID = 0 },
		func(r *Result) { r.PaymentID = 0 },
	} {
		r := ok
		edit(&r)
		if _, err := FromResult(1, r, time.Now()); !errors.Is(err, ErrInvalidResult) {
			t.Errorf("%+v: err = %v", r, err)
		}
	}
	if _, err := FromResult(1, ok, time.Now()); err != nil {
		t.Fatal(err)
	}
}
