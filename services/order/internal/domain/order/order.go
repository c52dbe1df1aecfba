// Package order is the order aggregate: its items, its money and its state machine.
// Plain Go: no storage, transport or broker here.
package order

import (
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
)

// Status is where an order is in its life.
type Status string

const (
	StatusPendingPayment Status = "PENDING_PAYMENT"
	StatusPaid           Status = "PAID"
	StatusCancelled      Status = "CANCELLED"
	StatusRefunding      Status = "REFUNDING"
	StatusRefunded       Status = "REFUNDED"
)

// Cancel reasons.
const (
	ReasonUserCancelled = "USER_CANCELLED"
	ReasonTimeout       = "TIMEOUT"
)

// HoldsStock reports whether an order in status s keeps its items' stock and course seats.
// Leaving such a status for CANCELLED (or REFUNDED, for course seats) is what releases them.
func (s Status) HoldsStock() bool { return s != StatusCancelled }

// HoldsCourse reports whether an order in status s keeps the user's "one live order per course" seat.
func (s Status) HoldsCourse() bool { return s != StatusCancelled && s != StatusRefunded }

// Item is one priced line of an order; the price is copied from the catalog at creation.
type Item struct {
	SkuID     string
	Title     string
	Kind      catalog.Kind
	UnitPrice money.Fen
	Quantity  int32
}

// Subtotal is unit price times quantity.
func (i Item) Subtotal() money.Fen { return i.UnitPrice * money.Fen(i.Quantity) }

// Order is the aggregate. Its fields change only through the transition methods.
type Order struct {
	ID           int64
	UserID       string
	RequestID    string
	Status       Status
	Total        money.Fen
	Items        []Item
	CreatedAt    time.Time
	PayDeadline  time.Time
	PaidAt       time.Time // zero until paid
	PaymentID    int64     // the payment that paid the order
	CancelledAt  time.Time
	CancelReason string
	RefundingID  int64 // the refund in flight while REFUNDING
	RefundedFen  money.Fen
	RefundedAt   time.Time
}

// New prices a validated request from the catalog and returns the order awaiting payment.
// skus must hold every sku of the request; a missing one is ErrSkuNotFound.
func New(id int64, req Request, skus map[string]catalog.Sku, now time.Time, payTimeout time.Duration) (*Order, error) {
	now = now.UTC().Truncate(time.Microsecond) // what the database keeps, so replays compare equal
	o := &Order{
		ID:          id,
		UserID:      req.UserID,
		RequestID:   req.RequestID,
		Status:      StatusPendingPayment,
		CreatedAt:   now,
		PayDeadline: now.Add(payTimeout),
		Items:       make([]Item, 0, len(req.Lines)),
	}
	for _, l := range req.Lines {
		sku, ok := skus[l.SkuID]
		if !ok {
			return nil, catalog.NotFound(l.SkuID)
		}
		if sku.Kind == catalog.KindCourse && l.Quantity != 1 {
			return nil, ErrCourseQuantity
		}
		item := Item{SkuID: sku.ID, Title: sku.Title, Kind: sku.Kind, UnitPrice: sku.Price, Quantity: l.Quantity}
		o.Items = append(o.Items, item)
		o.Total += item.Subtotal()
	}
	return o, nil
}

// Courses returns the sku ids of the COURSE items.
func (o *Order) Courses() []string {
	var ids []string
	for _, it := range o.Items {
		if it.Kind == catalog.KindCourse {
			ids = append(ids, it.SkuID)
		}
	}
	return ids
}

// SameItems reports whether the order was made from exactly the lines of req.
func (o *Order) SameItems(req Request) bool {
	if len(o.Items) != len(req.Lines) {
		return false
	}
	for i, it := range o.Items {
		if it.SkuID != req.Lines[i].SkuID || it.Quantity != req.Lines[i].Quantity {
			return false
		}
	}
	return true
}
