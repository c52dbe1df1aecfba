package order_test

import (
	"errors"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// an order of 2 × 1000 fen in the given state.
func orderIn(s order.Status) *order.Order {
	o := &order.Order{ID: 7, UserID: "u1", RequestID: "r1", Status: order.StatusPendingPayment, Total: 2000,
		Items: []order.Item{{SkuID: "mug", Kind: catalog.KindGoods, UnitPrice: 1000, Quantity: 2}}}
	switch s {
	case order.StatusPaid:
		o.Status, o.PaymentID, o.PaidAt = s, 11, t0
	case order.StatusRefunding:
		o.Status, o.PaymentID, o.PaidAt, o.RefundingID = s, 11, t0, 21
	case order.StatusRefunded:
		o.Status, o.PaymentID, o.PaidAt, o.RefundedFen = s, 11, t0, 2000
	case order.StatusCancelled:
		o.Status, o.CancelledAt, o.CancelReason = s, t0, order.ReasonUserCancelled
	}
	return o
}

func TestCancel(t *testing.T) {
	tests := []struct {
		from    order.Status
		wantErr []error
	}{
		{order.StatusPendingPayment, nil},
		{order.StatusPaid, []error{order.ErrNotCancellable, order.ErrWasPaid}},
		{order.StatusRefunding, []error{order.ErrNotCancellable, order.ErrWasPaid}},
		{order.StatusRefunded, []error{order.ErrNotCancellable, order.ErrWasPaid}},
		{order.StatusCancelled, []error{order.ErrNotCancellable}},
	}
	for _, tt := range tests {
		t.Run(string(tt.from), func(t *testing.T) {
			o := orderIn(tt.from)
			before := *o
			err := o.Cancel("", t0)
			if tt.wantErr == nil {
				if err != nil || o.Status != order.StatusCancelled || o.CancelReason != order.ReasonUserCancelled || !o.CancelledAt.Equal(t0) {
					t.Fatalf("err=%v order=%+v; want CANCELLED USER_CANCELLED at t0", err, o)
				}
				return
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want %v", err, want)
				}
			}
			if o.Status != before.Status || o.CancelReason != before.CancelReason {
				t.Errorf("a refused cancel changed the order: %+v", o)
			}
		})
	}
	o := orderIn(order.StatusPendingPayment)
	if err := o.Cancel(order.ReasonTimeout, t0); err != nil || o.CancelReason != order.ReasonTimeout {
		t.Fatalf("timeout cancel: %v %q", err, o.CancelReason)
	}
}

func TestMarkPaid(t *testing.T) {
	tests := []struct {
		name      string
		from      order.Status
		paymentID int64
		amount    money.Fen
		want      order.Status
		wantErr   error
	}{
		{"pending, right amount", order.StatusPendingPayment, 11, 2000, order.StatusPaid, nil},
		{"pending, amount mismatch", order.StatusPendingPayment, 11, 1999, order.StatusPendingPayment, order.ErrAmountMismatch},
		{"pending, no payment id", order.StatusPendingPayment, 0, 2000, order.StatusPendingPayment, order.ErrMissingPaymentID},
		{"paid, same payment again", order.StatusPaid, 11, 2000, order.StatusPaid, nil},
		{"paid, same payment other amount", order.StatusPaid, 11, 5, order.StatusPaid, order.ErrAmountMismatch},
		{"paid, another payment", order.StatusPaid, 12, 2000, order.StatusPaid, order.ErrAlreadyPaid},
		{"refunding, same payment", order.StatusRefunding, 11, 2000, order.StatusRefunding, nil},
		{"refunded, another payment", order.StatusRefunded, 12, 2000, order.StatusRefunded, order.ErrAlreadyPaid},
		{"cancelled", order.StatusCancelled, 11, 2000, order.StatusCancelled, order.ErrCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := orderIn(tt.from)
			err := o.MarkPaid(tt.paymentID, tt.amount, t0.Add(time.Minute))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if o.Status != tt.want {
				t.Fatalf("status = %s, want %s", o.Status, tt.want)
			}
			if tt.from == order.StatusPendingPayment && tt.want == order.StatusPaid && (o.PaymentID != 11 || !o.PaidAt.Equal(t0.Add(time.Minute))) {
				t.Fatalf("paid order lacks payment: %+v", o)
			}
			if tt.from == order.StatusPaid && !o.PaidAt.Equal(t0) {
				t.Fatalf("replay moved paid_at: %v", o.PaidAt)
			}
		})
	}
}

func TestBeginRefund(t *testing.T) {
	tests := []struct {
		name     string
		from     order.Status
		refundID int64
		amount   money.Fen
		want     order.Status
		wantErr  error
	}{
		{"paid, full", order.StatusPaid, 21, 2000, order.StatusRefunding, nil},
		{"paid, part", order.StatusPaid, 21, 500, order.StatusRefunding, nil},
		{"paid, too much", order.StatusPaid, 21, 2001, order.StatusPaid, order.ErrRefundAmount},
		{"paid, zero", order.StatusPaid, 21, 0, order.StatusPaid, order.ErrRefundAmount},
		{"paid, no refund id", order.StatusPaid, 0, 100, order.StatusPaid, order.ErrMissingRefundID},
		{"refunding, same refund", order.StatusRefunding, 21, 2000, order.StatusRefunding, nil},
		{"refunding, other refund", order.StatusRefunding, 22, 100, order.StatusRefunding, order.ErrRefundInFlight},
		{"pending", order.StatusPendingPayment, 21, 100, order.StatusPendingPayment, order.ErrNotRefundable},
		{"cancelled", order.StatusCancelled, 21, 100, order.StatusCancelled, order.ErrNotRefundable},
		{"refunded", order.StatusRefunded, 21, 100, order.StatusRefunded, order.ErrNotRefundable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := orderIn(tt.from)
			err := o.BeginRefund(tt.refundID, tt.amount)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if o.Status != tt.want {
				t.Fatalf("status = %s, want %s", o.Status, tt.want)
			}
		})
	}
}

func TestFinishRefund(t *testing.T) {
	tests := []struct {
		name         string
		from         order.Status
		refunded     money.Fen // already refunded before
		refundID     int64
		total        money.Fen
		want         order.Status
		wantRefunded money.Fen
		wantErr      error
	}{
		{"refunding, all back", order.StatusRefunding, 0, 21, 2000, order.StatusRefunded, 2000, nil},
		{"refunding, part back", order.StatusRefunding, 0, 21, 500, order.StatusPaid, 500, nil},
		{"refunding, second part completes", order.StatusRefunding, 500, 21, 2000, order.StatusRefunded, 2000, nil},
		{"refunding, failed refund (no change)", order.StatusRefunding, 500, 21, 500, order.StatusPaid, 500, nil},
		{"refunding, other refund settles", order.StatusRefunding, 0, 99, 300, order.StatusRefunding, 300, nil},
		{"refunding, more than paid", order.StatusRefunding, 0, 21, 2001, order.StatusRefunding, 0, order.ErrRefundAmount},
		{"paid, settled without begin", order.StatusPaid, 0, 21, 2000, order.StatusRefunded, 2000, nil},
		{"paid, late replay of a part", order.StatusPaid, 500, 21, 500, order.StatusPaid, 500, nil},
		{"paid, older total", order.StatusPaid, 800, 21, 500, order.StatusPaid, 800, nil},
		{"refunded, replay", order.StatusRefunded, 2000, 21, 2000, order.StatusRefunded, 2000, nil},
		{"pending", order.StatusPendingPayment, 0, 21, 100, order.StatusPendingPayment, 0, order.ErrNotRefundable},
		{"cancelled", order.StatusCancelled, 0, 21, 100, order.StatusCancelled, 0, order.ErrNotRefundable},
		{"no refund id", order.StatusRefunding, 0, 0, 100, order.StatusRefunding, 0, order.ErrMissingRefundID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := orderIn(tt.from)
			if tt.from != order.StatusRefunded {
				o.RefundedFen = tt.refunded
			}
			err := o.FinishRefund(tt.refundID, tt.total, t0)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if o.Status != tt.want || o.RefundedFen != tt.wantRefunded {
				t.Fatalf("status %s refunded %d, want %s %d", o.Status, o.RefundedFen, tt.want, tt.wantRefunded)
			}
			if o.Status != order.StatusRefunding && o.RefundingID != 0 {
				t.Fatalf("refund id %d left behind in %s", o.RefundingID, o.Status)
			}
		})
	}
}

func TestNewRequestValidates(t *testing.T) {
	many := make([]order.Line, 51)
	for i := range many {
		many[i] = order.Line{SkuID: string(rune('a'+i%26)) + string(rune('a'+i/26)), Quantity: 1}
	}
	long := string(make([]byte, 65))
	tests := []struct {
		name  string
		user  string
		req   string
		lines []order.Line
		want  error
	}{
		{"ok", "u", "r", []order.Line{{"a", 1}}, nil},
		{"missing user", " ", "r", []order.Line{{"a", 1}}, order.ErrMissingUserID},
		{"missing request", "u", "", []order.Line{{"a", 1}}, order.ErrMissingRequestID},
		{"long user", long, "r", []order.Line{{"a", 1}}, order.ErrIDTooLong},
		{"no items", "u", "r", nil, order.ErrItemCount},
		{"51 items", "u", "r", many, order.ErrItemCount},
		{"50 items", "u", "r", many[:50], nil},
		{"missing sku", "u", "r", []order.Line{{"", 1}}, order.ErrMissingSkuID},
		{"quantity 0", "u", "r", []order.Line{{"a", 0}}, order.ErrInvalidQuantity},
		{"quantity -1", "u", "r", []order.Line{{"a", -1}}, order.ErrInvalidQuantity},
		{"quantity 100", "u", "r", []order.Line{{"a", 100}}, order.ErrInvalidQuantity},
		{"quantity 99", "u", "r", []order.Line{{"a", 99}}, nil},
		{"merged beyond 99", "u", "r", []order.Line{{"a", 50}, {"a", 50}}, order.ErrInvalidQuantity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := order.NewRequest(tt.user, tt.req, tt.lines)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want != nil && !errors.Is(err, order.ErrInvalidInput) {
				t.Fatalf("%v is not an ErrInvalidInput", err)
			}
		})
	}
}

func TestNewRequestMergesAndSorts(t *testing.T) {
	req, err := order.NewRequest("u", "r", []order.Line{{"b", 1}, {"a", 2}, {"b", 3}})
	if err != nil {
		t.Fatal(err)
	}
	want := []order.Line{{"a", 2}, {"b", 4}}
	if len(req.Lines) != 2 || req.Lines[0] != want[0] || req.Lines[1] != want[1] {
		t.Fatalf("lines = %v, want %v", req.Lines, want)
	}
}

func TestNewPricesFromCatalog(t *testing.T) {
	skus := map[string]catalog.Sku{
		"go":  {ID: "go", Title: "Go", Kind: catalog.KindCourse, Price: 19900},
		"mug": {ID: "mug", Title: "Mug", Kind: catalog.KindGoods, Price: 2500},
	}
	req, _ := order.NewRequest("u", "r", []order.Line{{"mug", 3}, {"go", 1}})
	o, err := order.New(1, req, skus, t0.Add(123), 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if o.Total != 19900+3*2500 || o.Status != order.StatusPendingPayment || !o.PayDeadline.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("order = %+v", o)
	}
	if got := o.Courses(); len(got) != 1 || got[0] != "go" {
		t.Fatalf("courses = %v", got)
	}
	if !o.SameItems(req) {
		t.Fatal("SameItems(own request) = false")
	}
	req2, _ := order.NewRequest("u", "r", []order.Line{{"mug", 2}, {"go", 1}})
	if o.SameItems(req2) {
		t.Fatal("SameItems(other quantity) = true")
	}

	unknown, _ := order.NewRequest("u", "r", []order.Line{{"nope", 1}})
	if _, err := order.New(1, unknown, skus, t0, time.Minute); !errors.Is(err, catalog.ErrSkuNotFound) {
		t.Fatalf("unknown sku: %v", err)
	}
	twoCourses, _ := order.NewRequest("u", "r", []order.Line{{"go", 2}})
	if _, err := order.New(1, twoCourses, skus, t0, time.Minute); !errors.Is(err, order.ErrCourseQuantity) {
		t.Fatalf("course quantity 2: %v", err)
	}
}

func TestNoteLateRefund(t *testing.T) {
	tests := []struct {
		name      string
		from      order.Status
		paymentID int64
		refunded  money.Fen
		wantErr   error
		wantShown money.Fen
	}{
		{"cancelled, late payment refunded", order.StatusCancelled, 31, 2000, nil, 2000},
		{"cancelled, more than the total", order.StatusCancelled, 31, 2001, order.ErrRefundAmount, 0},
		{"cancelled, no payment id", order.StatusCancelled, 0, 2000, order.ErrMissingPaymentID, 0},
		{"pending", order.StatusPendingPayment, 31, 2000, order.ErrNotRefundable, 0},
		{"paid", order.StatusPaid, 31, 2000, order.ErrNotRefundable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := orderIn(tt.from)
			err := o.NoteLateRefund(tt.paymentID, tt.refunded, t0)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if o.Status != tt.from || o.RefundedFen != tt.wantShown {
				t.Fatalf("status %s refunded %d, want %s %d", o.Status, o.RefundedFen, tt.from, tt.wantShown)
			}
		})
	}
	o := orderIn(order.StatusCancelled)
	_ = o.NoteLateRefund(31, 2000, t0)
	if err := o.NoteLateRefund(32, 2000, t0.Add(time.Hour)); err != nil || o.PaymentID != 31 || !o.RefundedAt.Equal(t0) {
		t.Fatalf("a second late payment replaced the first: %v %+v", err, o)
	}
}

// A refund names its payment: only the payment that paid the order may refund it (0: a caller
// that names none, as before).
func TestRefundsPayment(t *testing.T) {
	o := orderIn(order.StatusPaid)
	o.PaymentID = 7
	for _, tc := range []struct {
		payment int64
		want    error
	}{{7, nil}, {0, nil}, {8, order.ErrRefundOtherPayment}} {
		if err := o.RefundsPayment(tc.payment); !errors.Is(err, tc.want) {
			t.Fatalf("refund of payment %d: err = %v, want %v", tc.payment, err, tc.want)
		}
	}
}
