package app

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

func TestCreateOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		who       principal.Caller // zero: a system call
		user      string
		request   string
		lines     []order.Line
		existing  []*order.Order
		setup     func(*memOrders)
		catalog   Catalog
		wantErr   error
		wantOrder int64     // the order answered: 101 is a new one
		wantTotal money.Fen // of the answered order
		stored    int       // orders stored at the end
	}{
		{name: "a new order is priced from the catalog and its stock taken",
			user: "u1", request: "r1", lines: []order.Line{line("mug", 2), line("go", 1)},
			wantOrder: 101, wantTotal: 2*4500 + 19900, stored: 1},
		{name: "a customer orders for themselves",
			who: customer("u1"), user: "u1", request: "r1", lines: []order.Line{line("mug", 1)},
			wantOrder: 101, wantTotal: 4500, stored: 1},
		{name: "an empty user id is the caller",
			who: customer("u1"), request: "r1", lines: []order.Line{line("mug", 1)},
			wantOrder: 101, wantTotal: 4500, stored: 1},
		{name: "a customer cannot order for another user",
			who: customer("u2"), user: "u1", request: "r1", lines: []order.Line{line("mug", 1)}, wantErr: order.ErrNotYours},
		{name: "nor can merchant staff",
			who: merchant("staff"), user: "u1", request: "r1", lines: []order.Line{line("mug", 1)}, wantErr: order.ErrNotYours},
		{name: "the unpaid-order cap refuses one more and stores nothing",
			user: "u1", request: "r9", lines: []order.Line{line("mug", 1)},
			existing: []*order.Order{placed(7, "u1", "r1", order.StatusPendingPayment, line("pen", 1)),
				placed(8, "u1", "r2", order.StatusPendingPayment, line("pen", 1)),
				placed(9, "u1", "r3", order.StatusPaid, line("pen", 1))},
			wantErr: order.ErrTooManyPending, stored: 3},
		{name: "a malformed request is refused before the catalog is read",
			user: "", request: "r1", lines: []order.Line{line("mug", 1)}, catalog: fakeCatalog{err: errors.New("down")},
			wantErr: order.ErrMissingUserID},
		{name: "an unknown sku is not found",
			user: "u1", request: "r1", lines: []order.Line{line("mug", 1), line("nope", 1)}, wantErr: catalog.ErrSkuNotFound},
		{name: "a course is bought once",
			user: "u1", request: "r1", lines: []order.Line{line("go", 2)}, wantErr: order.ErrCourseQuantity},
		{name: "out of stock stores nothing",
			user: "u1", request: "r1", lines: []order.Line{line("mug", 1), line("pen", 6)}, wantErr: catalog.ErrOutOfStock},
		{name: "the catalog cannot be read",
			user: "u1", request: "r1", lines: []order.Line{line("mug", 1)}, catalog: fakeCatalog{err: errStorage},
			wantErr: errStorage},
		{name: "the same request again answers its order",
			user: "u1", request: "r1", lines: []order.Line{line("mug", 1)},
			existing:  []*order.Order{placed(7, "u1", "r1", order.StatusPendingPayment, line("mug", 1))},
			wantOrder: 7, wantTotal: 4500, stored: 1},
		{name: "the same request id with other items is refused",
			user: "u1", request: "r1", lines: []order.Line{line("mug", 2)},
			existing: []*order.Order{placed(7, "u1", "r1", order.StatusPendingPayment, line("mug", 1))},
			wantErr:  order.ErrRequestIDReused, stored: 1},
		{name: "a course waiting in an unpaid order with the same items answers that order",
			user: "u1", request: "r2", lines: []order.Line{line("go", 1)},
			existing:  []*order.Order{placed(7, "u1", "r1", order.StatusPendingPayment, line("go", 1))},
			wantOrder: 7, wantTotal: 19900, stored: 1},
		{name: "a course waiting in an unpaid order with other items is refused",
			user: "u1", request: "r2", lines: []order.Line{line("go", 1), line("pen", 1)},
			existing: []*order.Order{placed(7, "u1", "r1", order.StatusPendingPayment, line("go", 1))},
			wantErr:  order.ErrCourseInPendingOrder, stored: 1},
		{name: "a course the user paid for is owned",
			user: "u1", request: "r2", lines: []order.Line{line("go", 1)},
			existing: []*order.Order{placed(7, "u1", "r1", order.StatusPaid, line("go", 1))},
			wantErr:  order.ErrCourseOwned, stored: 1},
		{name: "a course another user bought is no obstacle",
			user: "u2", request: "r1", lines: []order.Line{line("go", 1)},
			existing:  []*order.Order{placed(7, "u1", "r1", order.StatusPaid, line("go", 1))},
			wantOrder: 101, wantTotal: 19900, stored: 2},
		{name: "a seat freed by a racing cancel is taken on the next attempt",
			user: "u1", request: "r2", lines: []order.Line{line("go", 1)},
			existing: []*order.Order{placed(7, "u1", "r1", order.StatusCancelled, line("go", 1))},
			setup: func(m *memOrders) {
				m.createErrs = []error{&CourseHeldError{SkuID: "go", OrderID: 7}} // read before its cancel committed
			},
			wantOrder: 102, wantTotal: 19900, stored: 2},
		{name: "a seat whose holder is gone but never frees: refused after three attempts",
			user: "u1", request: "r2", lines: []order.Line{line("go", 1)},
			setup: func(m *memOrders) {
				held := &CourseHeldError{SkuID: "go", OrderID: 7}
				m.createErrs = []error{held, held, held, held}
			},
			wantErr: order.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orders := newOrders(map[string]int64{"mug": 10, "pen": 5, "go": 100}, tc.existing...)
			if tc.setup != nil {
				tc.setup(orders)
			}
			cat := tc.catalog
			if cat == nil {
				cat = testCatalog
			}
			a := newTestApp(orders, cat, nil)

			o, err := a.CreateOrder(context.Background(), tc.who, tc.user, tc.request, tc.lines)

			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if n := orders.count(); n != tc.stored {
				t.Fatalf("%d orders stored, want %d", n, tc.stored)
			}
			var created []int64
			for _, ev := range orders.events {
				created = append(created, ev.OrderID)
			}
			if tc.wantErr != nil {
				if o != nil || len(created) > 0 || orders.stock["mug"] != 10 || orders.stock["pen"] != 5 {
					t.Fatalf("a refused create answered %v, emitted %v, left stock %v", o, created, orders.stock)
				}
				return
			}
			if o.ID != tc.wantOrder || o.Total != tc.wantTotal || o.Status != order.StatusPendingPayment {
				t.Fatalf("answered order %d of %d fen (%s), want %d of %d fen", o.ID, o.Total, o.Status, tc.wantOrder, tc.wantTotal)
			}
			if tc.wantOrder < 100 { // an existing order answered again: nothing new happened
				if len(created) > 0 {
					t.Fatalf("answering an existing order emitted %v", created)
				}
				return
			}
			want := []Event{{Type: EventPayDeadline, OrderID: o.ID, PayDeadline: t0.Add(payTimeout)}}
			if !slices.Equal(orders.events, want) || !o.PayDeadline.Equal(t0.Add(payTimeout)) {
				t.Fatalf("emitted %+v, want only the pay deadline %+v", orders.events, want)
			}
		})
	}
}
