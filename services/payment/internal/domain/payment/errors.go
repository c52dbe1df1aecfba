package payment

import (
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/pkg/inputerr"
)

// ErrInvalidInput matches every malformed-request error below (pkg/inputerr's family): the
// caller must fix the request; nothing was changed.
var ErrInvalidInput = inputerr.ErrInvalid

// Malformed requests (all match errors.Is(err, ErrInvalidInput)).
var (
	ErrMissingOrderID   = inputerr.New("order_id is required")
	ErrMissingPaymentID = inputerr.New("payment_id is required")
	ErrMissingRefundID  = inputerr.New("refund_id is required")
	ErrInvalidChannel   = inputerr.New("channel must be ALIPAY_QR or WECHAT_NATIVE")
	ErrRefundAmount     = inputerr.New("refund amount must be positive")
	ErrMissingRequestID = inputerr.New("request_id is required (1 to 64 characters)")
	ErrReasonTooLong    = inputerr.New("reason is too long for the channel (WeChat Pay: 80 characters, Alipay: 256)")
	ErrAnomalyFilter    = inputerr.New("state must be OPEN or RESOLVED")
	ErrPageToken        = inputerr.New("page_token is not one this service gave")
	ErrRequestIDReused  = inputerr.New("request_id was already used for a different refund amount")
)

// Access errors: the caller may not do this (PermissionDenied). Another customer's payment is
// ErrNotFound instead, so its existence is not revealed.
var (
	// ErrNotYours: only the order's owner pays it.
	ErrNotYours = errors.New("not allowed for this user")
	// ErrMerchantOnly: refunds and anomalies are merchant staff's.
	ErrMerchantOnly = errors.New("this needs the merchant role")
)

// State errors: the entity exists but its state does not allow the request.
var (
	ErrNotFound        = errors.New("not found")
	ErrOrderNotFound   = errors.New("order not found")
	ErrOrderNotPayable = errors.New("order is not awaiting payment")
	// ErrOrderExpiring: too little time is left before the order's pay deadline to open a trade.
	ErrOrderExpiring = errors.New("order pay deadline is too close to start a payment")
	// ErrAmountMismatch: a verified success report names another amount than the trade's.
	ErrAmountMismatch = errors.New("paid amount does not match the trade")
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

// NotFoundError is ErrNotFound for the kind ("payment", "refund") with id. A customer asking for
// another user's one gets exactly this too, so the answer never tells the two apart.
func NotFoundError(kind string, id any) error { return fmt.Errorf("%s %v: %w", kind, id, ErrNotFound) }

// OrderNotFoundError is ErrOrderNotFound for the order id, whether it does not exist or is
// another user's.
func OrderNotFoundError(id int64) error { return fmt.Errorf("order %d: %w", id, ErrOrderNotFound) }
