package app

import (
	"context"
	"errors"
	"testing"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

func customer(id string) principal.Caller { return principal.AsUser(principal.Principal{UserID: id}) }
func merchant(id string) principal.Caller {
	return principal.AsUser(principal.Principal{UserID: id, Roles: []string{principal.RoleMerchant}})
}

func TestCancelOrder(t *testing.T) {
	unpaid := func() *order.Order { return placed(7, "u1", "r1", order.StatusPendingPayment, line("mug", 2)) }
	for _, tc := range []struct {
		name    string
		who     principal.Caller // zero: a system call (the deadline consumer, an operator)
		id      int64
		user    string
		reason  string
		stored  *order.Order
		closer  *fakeCloser // nil: an order-only deployment
		race    func(*memOrders)
		wantErr []error
		closed  bool         // the payment service was asked to close the trades
		status  order.Status // of order 7 afterwards
		reason7 string       // its cancel reason
		paidBy  int64        // its payment
		mugs    int64        // mug stock afterwards: 8 while the order holds 2, 10 once they are back
	}{
		{name: "an unpaid order is cancelled after its trades are closed, stock back once",
			id: 7, user: "u1", stored: unpaid(), closer: &fakeCloser{},
			closed: true, status: order.StatusCancelled, reason7: order.ReasonUserCancelled, mugs: 10},
		{name: "the deadline cancels with reason TIMEOUT",
			id: 7, reason: order.ReasonTimeout, stored: unpaid(), closer: &fakeCloser{},
			closed: true, status: order.StatusCancelled, reason7: order.ReasonTimeout, mugs: 10},
		{name: "an order-only deployment cancels without closing trades",
			id: 7, stored: unpaid(), status: order.StatusCancelled, reason7: order.ReasonUserCancelled, mugs: 10},
		{name: "its owner cancels it",
			who: customer("u1"), id: 7, stored: unpaid(), closer: &fakeCloser{},
			closed: true, status: order.StatusCancelled, reason7: order.ReasonUserCancelled, mugs: 10},
		{name: "another customer finds no such order, and nothing changes",
			who: customer("u2"), id: 7, stored: unpaid(), closer: &fakeCloser{}, wantErr: []error{order.ErrNotFound},
			status: order.StatusPendingPayment, mugs: 8},
		{name: "a userId that is not the caller is refused",
			who: customer("u2"), id: 7, user: "u1", stored: unpaid(), closer: &fakeCloser{}, wantErr: []error{order.ErrNotYours},
			status: order.StatusPendingPayment, mugs: 8},
		{name: "merchant staff see the order but do not cancel it for the buyer",
			who: merchant("staff"), id: 7, stored: unpaid(), closer: &fakeCloser{}, wantErr: []error{order.ErrNotYours},
			status: order.StatusPendingPayment, mugs: 8},
		{name: "a user cannot cancel as TIMEOUT",
			who: customer("u1"), id: 7, reason: order.ReasonTimeout, stored: unpaid(), closer: &fakeCloser{},
			wantErr: []error{order.ErrBadCancelReason}, status: order.StatusPendingPayment, mugs: 8},
		{name: "no order id is invalid",
			id: 0, stored: unpaid(), closer: &fakeCloser{}, wantErr: []error{order.ErrMissingOrderID},
			status: order.StatusPendingPayment, mugs: 8},
		{name: "an unknown reason is invalid",
			id: 7, reason: "BORED", stored: unpaid(), closer: &fakeCloser{}, wantErr: []error{order.ErrBadCancelReason},
			status: order.StatusPendingPayment, mugs: 8},
		{name: "an unknown order is not found",
			id: 8, stored: unpaid(), closer: &fakeCloser{}, wantErr: []error{order.ErrNotFound},
			status: order.StatusPendingPayment, mugs: 8},
		{name: "another user's order is not found and stays",
			id: 7, user: "u2", stored: unpaid(), closer: &fakeCloser{}, wantErr: []error{order.ErrNotFound},
			status: order.StatusPendingPayment, mugs: 8},
		{name: "a paid order is not cancellable and the payment service is not asked",
			id: 7, stored: placed(7, "u1", "r1", order.StatusPaid, line("mug", 2)), closer: &fakeCloser{},
			wantErr: []error{order.ErrNotCancellable, order.ErrWasPaid}, status: order.StatusPaid, paidBy: 907, mugs: 8},
		{name: "a cancelled order is not cancelled twice",
			id: 7, stored: placed(7, "u1", "r1", order.StatusCancelled, line("mug", 2)), closer: &fakeCloser{},
			wantErr: []error{order.ErrNotCancellable}, status: order.StatusCancelled, mugs: 8},
		{name: "the payment service cannot confirm the close: nothing changes",
			id: 7, stored: unpaid(), closer: &fakeCloser{err: errors.New("unavailable")},
			wantErr: []error{ErrPaymentUnavailable}, closed: true, status: order.StatusPendingPayment, mugs: 8},
		{name: "a trade found paid while closing makes the order PAID",
			id: 7, stored: unpaid(), closer: &fakeCloser{paid: &PaidPayment{PaymentID: 55, Amount: 9000, PaidAt: t0}},
			wantErr: []error{order.ErrWasPaid}, closed: true, status: order.StatusPaid, paidBy: 55, mugs: 8},
		{name: "a trade found paid after another payment paid the order: the order keeps the first",
			id: 7, stored: unpaid(), closer: &fakeCloser{paid: &PaidPayment{PaymentID: 55, Amount: 9000, PaidAt: t0}},
			race: func(m *memOrders) {
				m.beforeUpdate = func() {
					m.set(7, func(o *order.Order) { o.Status, o.PaymentID = order.StatusPaid, 44 })
				}
			},
			wantErr: []error{order.ErrWasPaid}, closed: true, status: order.StatusPaid, paidBy: 44, mugs: 8},
		{name: "paid by the payment service while we closed: not cancellable, stays PAID",
			id: 7, stored: unpaid(), closer: &fakeCloser{},
			race: func(m *memOrders) {
				m.beforeUpdate = func() {
					m.set(7, func(o *order.Order) { o.Status, o.PaymentID = order.StatusPaid, 44 })
				}
			},
			wantErr: []error{order.ErrNotCancellable, order.ErrWasPaid}, closed: true, status: order.StatusPaid, paidBy: 44, mugs: 8},
		{name: "cancelled by a racing twin: not cancelled twice, stock back once",
			id: 7, stored: unpaid(), closer: &fakeCloser{},
			race: func(m *memOrders) {
				m.beforeUpdate = func() {
					m.set(7, func(o *order.Order) { o.Status = order.StatusCancelled })
					m.stock["mug"] += 2
				}
			},
			wantErr: []error{order.ErrNotCancellable}, closed: true, status: order.StatusCancelled, mugs: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orders := newOrders(map[string]int64{"mug": 8}, tc.stored) // 10, of which the order took 2
			if tc.race != nil {
				tc.race(orders)
			}
			var closer PaymentCloser
			if tc.closer != nil {
				closer = tc.closer
			}
			a := newTestApp(orders, testCatalog, closer)

			o, err := a.CancelOrder(context.Background(), tc.who, tc.id, tc.user, tc.reason)

			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
			}
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatal(err)
			}
			if (err == nil) == (o == nil) {
				t.Fatalf("answered %v with err %v", o, err)
			}
			if tc.closer != nil && (tc.closer.calls == 1) != tc.closed {
				t.Fatalf("payment service asked to close %d times, want closed=%v", tc.closer.calls, tc.closed)
			}
			got, _ := orders.Get(context.Background(), 7)
			if got.Status != tc.status || got.CancelReason != tc.reason7 || got.PaymentID != tc.paidBy {
				t.Fatalf("order is %s (reason %q, payment %d), want %s (%q, %d)", got.Status, got.CancelReason, got.PaymentID, tc.status, tc.reason7, tc.paidBy)
			}
			if orders.stock["mug"] != tc.mugs {
				t.Fatalf("%d mugs in stock, want %d", orders.stock["mug"], tc.mugs)
			}
		})
	}
}
