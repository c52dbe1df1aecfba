package order

import (
	"errors"

	"github.com/paysuite/paysuite/pkg/inputerr"
)

// ErrInvalidInput matches every malformed-request error below (pkg/inputerr's family): the
// caller must fix the request; nothing was changed.
var ErrInvalidInput = inputerr.ErrInvalid

// Malformed requests (all match errors.Is(err, ErrInvalidInput)).
var (
	ErrMissingUserID    = inputerr.New("user_id is required")
	ErrMissingRequestID = inputerr.New("request_id is required")
	ErrIDTooLong        = inputerr.New("ids are at most 64 characters")
	ErrItemCount        = inputerr.New("an order has 1 to 50 items")
	ErrMissingSkuID     = inputerr.New("every item needs a sku_id")
	ErrInvalidQuantity  = inputerr.New("quantity must be 1 to 99")
	ErrCourseQuantity   = inputerr.New("a course is bought once: quantity must be 1")
	ErrRequestIDReused  = inputerr.New("request_id was already used for different items")
	ErrMissingOrderID   = inputerr.New("order_id is required")
	ErrMissingPaymentID = inputerr.New("payment_id is required")
	ErrMissingRefundID  = inputerr.New("refund_id is required")
	ErrBadPageToken     = inputerr.New("page_token is not one this service issued")
	ErrAmountMismatch   = inputerr.New("amount does not match the order total")
	ErrRefundAmount     = inputerr.New("refund amount must be positive and within what was paid")
	ErrBadCancelReason  = inputerr.New("reason must be empty, USER_CANCELLED or TIMEOUT")
)

// State errors: the order exists but is not in a state that allows the request.
var (
	ErrNotFound = errors.New("order not found")
	// ErrNotCancellable: only an unpaid (PENDING_PAYMENT) order can be cancelled.
	ErrNotCancellable = errors.New("order is not awaiting payment and cannot be cancelled")
	// ErrWasPaid: a cancel found the order paid (directly or at the provider while closing).
	ErrWasPaid = errors.New("order was paid")
	// ErrAlreadyPaid: the order is paid by another payment; the caller refunds its duplicate.
	ErrAlreadyPaid = errors.New("order is already paid by another payment")
	// ErrCancelled: a payment arrived for a cancelled order; the caller refunds it.
	ErrCancelled = errors.New("order is cancelled")
	// ErrNotRefundable: refunds start only from PAID.
	ErrNotRefundable = errors.New("order is not paid and cannot be refunded")
	// ErrRefundOtherPayment: a refund names a payment that is not the one that paid the order
	// (a duplicate payment's refund is that payment's business, never the order's).
	ErrRefundOtherPayment = errors.New("the refund is of another payment than the one that paid the order")
	// ErrRefundInFlight: one refund at a time per order.
	ErrRefundInFlight = errors.New("another refund of this order is in flight")
	// ErrCourseOwned: the user already paid for a course in this request.
	ErrCourseOwned = errors.New("course already bought by this user")
	// ErrCourseInPendingOrder: a course in this request waits in another unpaid order with other items.
	ErrCourseInPendingOrder = errors.New("course is in another unpaid order of this user; pay or cancel it first")
	// ErrTooManyPending: the user already has the most unpaid orders allowed; pay or cancel one.
	ErrTooManyPending = errors.New("too many unpaid orders for this user; pay or cancel one first")
)

// ErrNotYours: the request names a user other than the caller, or asks for something only the
// owner may do.
var ErrNotYours = errors.New("not allowed for this user")
