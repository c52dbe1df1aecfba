// Package notice holds what a user is told about a payment: one record per payment result
// event, with a readable message.
package notice

import (
	"errors"
	"fmt"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
)

// Typed errors the ports map to status codes.
var (
	ErrEmptyUserID    = errors.New("user id is required")
	ErrInvalidOrderID = errors.New("order id must be positive")
	// ErrInvalidResult marks an event that can never become a notification (parked by the consumer).
	ErrInvalidResult = errors.New("invalid payment result")
)

// Kind is the payment result type, as text (the proto enum names).
type Kind string

// The payment result kinds.
const (
	KindSucceeded Kind = "PAYMENT_SUCCEEDED"
	KindClosed    Kind = "PAYMENT_CLOSED"
	KindRefunded  Kind = "PAYMENT_REFUNDED"
)

// Result is a payment state change as published on paysuite.payment.results.
type Result struct {
	EventID         string
	Kind            Kind
	OrderID         int64
	PaymentID       int64
	UserID          string
	Amount          money.Fen
	RefundAmount    money.Fen
	RefundedTotal   money.Fen
	FullRefund      bool
	Reason          string
	OccurredAt      time.Time
	ProviderTradeNo string
	ChannelName     string
}

// Validate reports why r cannot be processed, wrapping ErrInvalidResult.
func (r Result) Validate() error {
	switch {
	case r.EventID == "" || len(r.EventID) > 64:
		return fmt.Errorf("%w: event id %q (want 1..64 characters)", ErrInvalidResult, r.EventID)
	case r.Kind != KindSucceeded && r.Kind != KindClosed && r.Kind != KindRefunded:
		return fmt.Errorf("%w: event %s has type %q", ErrInvalidResult, r.EventID, r.Kind)
	case r.UserID == "" || len(r.UserID) > 128:
		return fmt.Errorf("%w: event %s has user id %q", ErrInvalidResult, r.EventID, r.UserID)
	case r.OrderID <= 0 || r.PaymentID <= 0:
		return fmt.Errorf("%w: event %s lacks order or payment id", ErrInvalidResult, r.EventID)
	}
	return nil
}

// Notification is one message to a user.
type Notification struct {
	ID         int64
	EventID    string
	UserID     string
	OrderID    int64
	PaymentID  int64
	Kind       Kind
	Message    string
	OccurredAt time.Time // when the payment changed state
	CreatedAt  time.Time // when the user was told
}

// FromResult builds the notification for a payment result.
func FromResult(id int64, r Result, now time.Time) (*Notification, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	occurred := r.OccurredAt
	if occurred.IsZero() {
		occurred = now
	}
	return &Notification{ID: id, EventID: r.EventID, UserID: r.UserID, OrderID: r.OrderID, PaymentID: r.PaymentID,
		Kind: r.Kind, Message: Message(r), OccurredAt: occurred, CreatedAt: now}, nil
}

// Message is the sentence the user reads, e.g. "Payment of ¥12.34 for order 123 succeeded".
func Message(r Result) string {
	var s string
	switch r.Kind {
	case KindSucceeded:
		s = fmt.Sprintf("Payment of ¥%s for order %d succeeded", r.Amount.Yuan(), r.OrderID)
	case KindClosed:
		s = fmt.Sprintf("Payment of ¥%s for order %d was closed; nothing was charged", r.Amount.Yuan(), r.OrderID)
	case KindRefunded:
		refund := r.RefundAmount
		if refund == 0 {
			refund = r.RefundedTotal
		}
		switch {
		case r.FullRefund && refund == r.Amount:
			s = fmt.Sprintf("Payment of ¥%s for order %d was refunded in full", r.Amount.Yuan(), r.OrderID)
		case r.FullRefund:
			s = fmt.Sprintf("¥%s of your payment of ¥%s for order %d was refunded; it is now refunded in full",
				refund.Yuan(), r.Amount.Yuan(), r.OrderID)
		default:
			s = fmt.Sprintf("¥%s of your payment of ¥%s for order %d was refunded", refund.Yuan(), r.Amount.Yuan(), r.OrderID)
		}
	}
	if why := reasonText(r.Reason); why != "" {
		s += " " + why
	}
	return s
}

// Reasons a payment result may carry that the user is told about (the payment service's
// automatic-refund reasons, and timeouts).
const (
	ReasonOrderCancelled   = "ORDER_CANCELLED"
	ReasonDuplicatePayment = "DUPLICATE_PAYMENT"
	ReasonOrderTimeout     = "ORDER_TIMEOUT"
	ReasonTimeout          = "TIMEOUT"
)

func reasonText(reason string) string {
	switch reason {
	case ReasonOrderCancelled:
		return "because the order had already been cancelled"
	case ReasonDuplicatePayment:
		return "because the order was already paid"
	case ReasonOrderTimeout, ReasonTimeout:
		return "because the payment time ran out"
	default:
		return ""
	}
}
