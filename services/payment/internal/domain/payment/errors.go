package payment

import "errors"

// ErrInvalidInput is the family of malformed-request errors: the caller must fix the request;
// nothing was changed.
var ErrInvalidInput = errors.New("invalid input")

type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInvalidInput }

func invalid(msg string) error { return &inputError{msg: msg} }

// Malformed requests (all match errors.Is(err, ErrInvalidInput)).
var (
	ErrMissingOrderID   = invalid("order_id is required")
	ErrMissingPaymentID = invalid("payment_id is required")
	ErrMissingRefundID  = invalid("refund_id is required")
	ErrInvalidChannel   = invalid("channel must be ALIPAY_QR or WECHAT_NATIVE")
	ErrRefundAmount     = invalid("refund amount must be positive")
	ErrMissingRequestID = invalid("request_id is required (1 to 64 characters)")
	ErrReasonTooLong    = invalid("reason is at most 256 characters")
	ErrRequestIDReused  = invalid("request_id was already used for a different refund amount")
)

// State errors: the entity exists but its state does not allow the request.
var (
	ErrNotFound        = errors.New("not found")
	ErrOrderNotFound   = errors.New("order not found")
	ErrOrderNotPayable = errors.New("order is not awaiting payment")
	// ErrOrderExpiring: too little time is left before the order's pay deadline to open a trade.
	ErrOrderExpiring = errors.New("order pay deadline is too close to start a payment")
	// ErrAlreadySucceeded: the attempt is already paid; a second success report is a duplicate.
	ErrAlreadySucceeded = errors.New("payment already succeeded")
	// ErrNotWaiting: only a WAITING attempt can be paid or closed.
	ErrNotWaiting = errors.New("payment is not waiting for the buyer")
	// ErrNotRefundable: refunds start only from a SUCCEEDED payment.
	ErrNotRefundable = errors.New("payment is not paid and cannot be refunded")
	// ErrRefundExceeds: the amount is more than what was paid minus what is refunded or in flight.
	ErrRefundExceeds = errors.New("refund amount exceeds what is left to refund")
	// ErrRefundSettled: the refund already reached a final state.
	ErrRefundSettled = errors.New("refund already settled")
)
