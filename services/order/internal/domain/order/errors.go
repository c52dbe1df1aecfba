package order

import "errors"

// ErrInvalidInput is the family of every malformed-request error below: the caller must fix
// the request; nothing was changed.
var ErrInvalidInput = errors.New("invalid input")

type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInvalidInput }

func invalid(msg string) error { return &inputError{msg: msg} }

// Malformed requests (all match errors.Is(err, ErrInvalidInput)).
var (
	ErrMissingUserID    = invalid("user_id is required")
	ErrMissingRequestID = invalid("request_id is required")
	ErrIDTooLong        = invalid("ids are at most 64 characters")
	ErrItemCount        = invalid("an order has 1 to 50 items")
	ErrMissingSkuID     = invalid("every item needs a sku_id")
	ErrInvalidQuantity  = invalid("quantity must be 1 to 99")
	ErrCourseQuantity   = invalid("a course is bought once: quantity must be 1")
	ErrRequestIDReused  = invalid("request_id was already used for different items")
	ErrMissingOrderID   = invalid("order_id is required")
	ErrMissingPaymentID = invalid("payment_id is required")
	ErrMissingRefundID  = invalid("refund_id is required")
	ErrBadPageToken     = invalid("page_token is not one this service issued")
	ErrAmountMismatch   = invalid("amount does not match the order total")
	ErrRefundAmount     = invalid("refund amount must be positive and within what was paid")
	ErrBadCancelReason  = invalid("reason must be empty, USER_CANCELLED or TIMEOUT")
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
	// ErrRefundInFlight: one refund at a time per order.
	ErrRefundInFlight = errors.New("another refund of this order is in flight")
	// ErrCourseOwned: the user already paid for a course in this request.
	ErrCourseOwned = errors.New("course already bought by this user")
	// ErrCourseInPendingOrder: a course in this request waits in another unpaid order with other items.
	ErrCourseInPendingOrder = errors.New("course is in another unpaid order of this user; pay or cancel it first")
)
