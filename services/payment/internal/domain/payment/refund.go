package payment

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paysuite/paysuite/pkg/money"
)

// RefundStatus of one refund.
type RefundStatus string

const (
	RefundProcessing RefundStatus = "PROCESSING"
	RefundSucceeded  RefundStatus = "SUCCEEDED"
	RefundFailed     RefundStatus = "FAILED"
)

// Refund reasons paysuite sets itself.
const (
	ReasonUserRequest      = "USER_REQUEST"
	ReasonDuplicatePayment = "DUPLICATE_PAYMENT" // the order was paid by another attempt
	ReasonOrderCancelled   = "ORDER_CANCELLED"   // the payment arrived for a cancelled order
	ReasonOrderRefused     = "ORDER_REFUSED"     // the order, still unpaid, refused it (e.g. its amount)
	ReasonProviderConsole  = "PROVIDER_CONSOLE"  // made in the provider's console, found in its bill
	ReasonAmountMismatch   = "AMOUNT_MISMATCH"   // the provider took another amount than the trade's
)

// RefundReasonLimit is the longest refund reason the channel's provider takes, in characters:
// WeChat Pay's `reason` is at most 80, Alipay's `refund_reason` 256.
func (c Channel) RefundReasonLimit() int {
	if strings.HasPrefix(string(c), "WECHAT") {
		return 80
	}
	return 256
}

// Refund is one refund of a payment, idempotent on (payment, request id), with its own
// out_refund_no at the provider.
type Refund struct {
	ID          int64
	PaymentID   int64
	OrderID     int64
	Amount      money.Fen
	Reason      string
	RequestID   string
	OutRefundNo string
	Status      RefundStatus
	// Auto refunds give back a payment the order did not take (cancelled, or paid by another
	// attempt); they never touch the order's refund state.
	Auto bool
	// Submitted: the provider has been asked at least once (afterwards only query it).
	Submitted bool
	// OrderBegun / OrderFinished: the order service was told (user refunds only).
	OrderBegun    bool
	OrderFinished bool
	FailReason    string
	// Lines are the order lines this refund gives back (a refund by line); empty for an
	// amount-only (goodwill) refund.
	Lines       []RefundLine
	CreatedAt   time.Time
	SucceededAt time.Time
	UpdatedAt   time.Time
}

// NewRefund validates a refund request. Reservation against the payment is ReserveRefund's job.
func NewRefund(id int64, p *Payment, amount money.Fen, reason, requestID, outRefundNo string, auto bool, now time.Time) (*Refund, error) {
	if amount <= 0 {
		return nil, ErrRefundAmount
	}
	if requestID == "" || len(requestID) > 64 {
		return nil, ErrMissingRequestID
	}
	if utf8.RuneCountInString(reason) > p.Channel.RefundReasonLimit() || len(reason) > 256 {
		return nil, ErrReasonTooLong // refused before it reaches the provider, never cut silently
	}
	if reason == "" {
		reason = ReasonUserRequest
	}
	now = now.UTC().Truncate(time.Microsecond)
	return &Refund{
		ID: id, PaymentID: p.ID, OrderID: p.OrderID, Amount: amount, Reason: reason, RequestID: requestID,
		OutRefundNo: outRefundNo, Status: RefundProcessing, Auto: auto, CreatedAt: now, UpdatedAt: now,
	}, nil
}

// Succeed settles the refund: the money is back with the buyer. at is when the provider says
// it went through (its clock decides the provider day the refund belongs to, as for a
// payment's paidAt); zero, or later than now (a clock ahead of ours), is now.
func (r *Refund) Succeed(at, now time.Time) error {
	if r.Status != RefundProcessing {
		return fmt.Errorf("refund %d is %s: %w", r.ID, r.Status, ErrRefundSettled)
	}
	if at.IsZero() || at.After(now) {
		at = now
	}
	r.Status = RefundSucceeded
	r.SucceededAt = at.UTC().Truncate(time.Microsecond)
	r.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	return nil
}

// Fail records a refund the provider refused; the reserved amount goes back to the payment.
func (r *Refund) Fail(reason string, now time.Time) error {
	if r.Status != RefundProcessing {
		return fmt.Errorf("refund %d is %s: %w", r.ID, r.Status, ErrRefundSettled)
	}
	r.Status = RefundFailed
	r.FailReason = reason
	r.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	return nil
}
