package app

import (
	"context"
	"errors"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// ---- storage ------------------------------------------------------------------------------

// TaskKind names a kind of durable work.
type TaskKind string

const (
	// TaskMarkOrderPaid is no longer scheduled (the PaymentResult outbox row and the order's
	// refusals replace it); rows an older release left are still run to the end.
	TaskMarkOrderPaid TaskKind = "mark-order-paid" // ref: payment id
	TaskPollTrade     TaskKind = "poll-trade"      // ref: payment id
	TaskRefund        TaskKind = "refund"          // ref: refund id
)

// Task schedules work; (Kind, RefID) is unique, so scheduling twice moves the one row.
type Task struct {
	Kind  TaskKind
	RefID int64
	RunAt time.Time
}

// DueTask is a stored task whose time has come.
type DueTask struct {
	ID        int64
	Kind      TaskKind
	RefID     int64
	Attempt   int
	NextRunAt time.Time
}

// Notify outcomes kept in the notify log.
const (
	NotifyAccepted  = "ACCEPTED"        // changed state
	NotifyDuplicate = "DUPLICATE"       // verified, nothing left to change
	NotifyIgnored   = "IGNORED"         // verified, not a payment success (e.g. WAIT_BUYER_PAY)
	NotifyRefused   = "REFUSED"         // not verified or does not match our trade
	NotifyError     = "ERROR"           // verified but we failed to record it; the provider retries
	NotifyMismatch  = "AMOUNT_MISMATCH" // verified, another amount than ours: recorded as an anomaly, refunded
)

// NotifyRecord is one row of the notify log: every notify, verified or not.
type NotifyRecord struct {
	Channel      payment.Channel
	OutTradeNo   string
	NotifyID     string
	DedupeKey    string // set only on the notify that changed state
	Verified     bool
	Outcome      string
	RefuseReason string
	Headers      string
	Body         string // whole when verified; a refused notify keeps its first RefusedBodyKept bytes
	BodySHA256   string // hex SHA-256 of the whole body as received
	ReceivedAt   time.Time
}

// Changes are written in the same transaction as the payment row.
type Changes struct {
	Tasks     []Task // scheduled (upsert)
	DoneTasks []Task // deleted (RunAt ignored)
	NewRefund *payment.Refund
	Refund    *payment.Refund // updated
	Events    []Event
	Notify    *NotifyRecord
	// Anomalies are opened (or, when their (kind, ref) is open already, updated: Detail, Tried).
	Anomalies []payment.Anomaly
	// Resolve closes the open anomalies it names.
	Resolve *AnomalyResolution
}

// AnomalyResolution closes the open anomalies of a refund (or of a payment when RefundID is 0)
// because the provider's later word settled them.
type AnomalyResolution struct {
	PaymentID int64
	RefundID  int64
	Note      string
	At        time.Time
}

// AnomalyFilter selects anomalies for ListAnomalies; zero values match everything.
type AnomalyFilter struct {
	State    payment.AnomalyState
	Kind     payment.AnomalyKind
	BeforeID int64 // page token: only ids below it (newest first)
	Limit    int
}

// Anomalies lists the cases for a person, newest first.
type Anomalies interface {
	ListAnomalies(ctx context.Context, f AnomalyFilter) ([]payment.Anomaly, error)
}

// Payments stores payment attempts. The writes take Changes, stored in the same transaction; one
// whose ch.Notify dedupe key is already taken fails with ErrDuplicateNotify and writes nothing.
type Payments interface {
	// CreatePayment inserts a WAITING attempt. When another live attempt of the same order and
	// channel exists it returns that one and created=false.
	CreatePayment(ctx context.Context, p *payment.Payment, ch Changes) (stored *payment.Payment, created bool, err error)
	SetQRCode(ctx context.Context, paymentID int64, qr string) error
	GetPayment(ctx context.Context, id int64) (*payment.Payment, error)
	GetPaymentByOutTradeNo(ctx context.Context, outTradeNo string) (*payment.Payment, error)
	ListOrderPayments(ctx context.Context, orderID int64) ([]*payment.Payment, error)
	// UpdatePayment locks the payment row, runs fn, and writes the payment (conditionally on the
	// status it was read with) and ch in one transaction. An error from fn writes nothing.
	UpdatePayment(ctx context.Context, id int64, fn func(p *payment.Payment, ch *Changes) error) error
	// MarkSucceeded writes p's success with one conditional UPDATE … WHERE id=? AND status IN
	// (WAITING, CLOSED), plus ch, in one transaction (the hot path of every notify: no row lock
	// is held across a read). changed=false, nothing written, when it had already succeeded.
	MarkSucceeded(ctx context.Context, p *payment.Payment, ch Changes) (changed bool, err error)
}

// Refunds stores refunds beside their payment.
type Refunds interface {
	// UpdateRefund locks the refund's payment and the refund, then as Payments.UpdatePayment.
	UpdateRefund(ctx context.Context, refundID int64, fn func(p *payment.Payment, r *payment.Refund, ch *Changes) error) error
	GetRefund(ctx context.Context, id int64) (*payment.Refund, error)
	// FindRefund returns the refund of a payment made for requestID (payment.ErrNotFound if none).
	FindRefund(ctx context.Context, paymentID int64, requestID string) (*payment.Refund, error)
	// GetRefundByOutRefundNo finds a refund by our number at the provider (payment.ErrNotFound).
	GetRefundByOutRefundNo(ctx context.Context, outRefundNo string) (*payment.Refund, error)
}

// NotifyLog keeps every notify, verified or not, outside any state change.
type NotifyLog interface {
	LogNotify(ctx context.Context, rec NotifyRecord) error
}

// Tasks stores the durable tasks.
type Tasks interface {
	DueTasks(ctx context.Context, now time.Time, limit int) ([]DueTask, error)
	// ClaimTask moves a due task's next run to leaseUntil if nobody else did; false if taken.
	ClaimTask(ctx context.Context, t DueTask, leaseUntil time.Time) (bool, error)
	// RetryTask and DeleteTask act on a claimed task (t.NextRunAt is its lease) only while it
	// still holds that lease: work scheduled on it meanwhile (a notify that settled a refund
	// mid-run, say) is neither postponed nor deleted.
	RetryTask(ctx context.Context, t DueTask, runAt time.Time, lastErr string) error
	DeleteTask(ctx context.Context, t DueTask) error
}

// ErrDuplicateNotify: the notify's dedupe key is already in the log (a replay).
var ErrDuplicateNotify = errors.New("notify already processed")

// ---- events -------------------------------------------------------------------------------

// EventType is the kind of payment state change published to the results fanout.
type EventType string

const (
	EventSucceeded EventType = "SUCCEEDED"
	EventClosed    EventType = "CLOSED"
	EventRefunded  EventType = "REFUNDED"
)

// Event is one payment state change; the outbox adapter turns it into eventsv1.PaymentResult.
type Event struct {
	ID         string
	Type       EventType
	Payment    payment.Payment // after the change
	Refund     *payment.Refund // for REFUNDED
	Reason     string
	OccurredAt time.Time
}

// Outbox writes events in the transaction carried by ctx.
type Outbox interface {
	Add(ctx context.Context, events ...Event) error
}

// ---- order service ------------------------------------------------------------------------

// OrderStatus as the order service reports it.
type OrderStatus string

const (
	OrderPendingPayment OrderStatus = "PENDING_PAYMENT"
	OrderPaid           OrderStatus = "PAID"
	OrderCancelled      OrderStatus = "CANCELLED"
	OrderRefunding      OrderStatus = "REFUNDING"
	OrderRefunded       OrderStatus = "REFUNDED"
)

// Order is what payment needs to know about an order.
type Order struct {
	ID          int64
	UserID      string
	Status      OrderStatus
	Total       money.Fen
	PayDeadline time.Time
	PaymentID   int64
	Items       []payment.Item
}

// ErrOrderRefused: the order service answered that the request can never succeed
// (FailedPrecondition, InvalidArgument, NotFound); anything else is worth retrying.
var ErrOrderRefused = errors.New("order service refused")

// Orders is the order service.
type Orders interface {
	GetOrder(ctx context.Context, id int64) (Order, error) // payment.ErrOrderNotFound
	MarkOrderPaid(ctx context.Context, orderID, paymentID int64, amount money.Fen, paidAt time.Time) error
	// BeginRefund and FinishRefund name the payment refunded: the order refuses another one
	// than the payment that paid it.
	BeginRefund(ctx context.Context, orderID, refundID, paymentID int64, amount money.Fen) error
	FinishRefund(ctx context.Context, orderID, refundID, paymentID int64, refundedTotal money.Fen, at time.Time) error
}

// ---- provider channels --------------------------------------------------------------------

// TradeState is the provider's view of a trade.
type TradeState int

const (
	TradeWaiting  TradeState = iota // created or unknown to the provider yet: not paid
	TradePaid                       // paid (also when later refunded)
	TradeClosed                     // closed or expired unpaid
	TradeFinished                   // paid and no longer refundable; still paid
)

// Paid reports whether the buyer's money arrived.
func (s TradeState) Paid() bool { return s == TradePaid || s == TradeFinished }

// Trade is a verified statement from the provider about one trade.
type Trade struct {
	State           TradeState
	OutTradeNo      string
	ProviderTradeNo string
	Amount          money.Fen // meaningful when paid
	PaidAt          time.Time
}

// NotifyMessage is an async notify as the provider sent it, before anything is believed.
type NotifyMessage struct {
	Header map[string][]string // keys in canonical form, as net/http gives them
	Body   []byte
}

// Notify is a verified async notify: signature checked, app/merchant id ours.
type Notify struct {
	Trade
	NotifyID string // provider notify id (Alipay notify_id, WeChat event id)
	// Refund is set when the notify is about a refund (Alipay: a trade notify carrying
	// refund_fee / out_biz_no; WeChat: REFUND.*); it is then never a payment.
	Refund *RefundNotice
}

// RefundNotice is the provider's verified word about one of our refunds.
type RefundNotice struct {
	OutRefundNo string
	State       RefundState // RefundDone, RefundAbnormal or RefundRejected
	Detail      string      // the provider's status, for the record
	SettledAt   time.Time   // RefundDone: when the provider says it settled (zero: not said)
}

// PrepayRequest opens a trade at the provider.
type PrepayRequest struct {
	OutTradeNo string
	Amount     money.Fen
	Subject    string
	ExpireAt   time.Time
	NotifyURL  string
	Payer      payment.Payer // checked by payment.Channel.CheckPayer before any prepay
}

// Checkout is what the buyer opens to pay a trade; exactly one field is set, by channel.
type Checkout struct {
	// QRCode (ALIPAY_QR, WECHAT_NATIVE) is the provider's code URL. It stays valid for the
	// trade's life, so it is stored and handed out again for the live attempt.
	QRCode string
	// PayURL (ALIPAY_PAGE, ALIPAY_WAP, WECHAT_H5) is where the buyer's browser goes.
	PayURL string
	// JSAPI (WECHAT_JSAPI) are the signed getBrandWCPayRequest parameters.
	JSAPI *JSAPIParams
}

// JSAPIParams are the parameters of WeixinJSBridge getBrandWCPayRequest: paySign is the
// merchant key's RSA-SHA256 over appId, timeStamp, nonceStr and package, one per line.
type JSAPIParams struct {
	AppID, TimeStamp, NonceStr, Package, SignType, PaySign string
}

// ReturnClaim is what a verified return URL says: the provider sent the buyer back from this
// trade. It proves nothing about payment (the buyer may have given up, or the redirect may be
// replayed); only a notify or a query does.
type ReturnClaim struct {
	OutTradeNo      string
	ProviderTradeNo string
	Amount          money.Fen
}

// ErrNoSignedReturn: the channel's provider sends the buyer back without signed parameters.
var ErrNoSignedReturn = errors.New("this channel's return carries no signed parameters")

// RefundRequest refunds part of a trade; OutRefundNo makes it idempotent at the provider.
type RefundRequest struct {
	OutTradeNo  string
	OutRefundNo string
	Amount      money.Fen
	Total       money.Fen
	Reason      string
}

// RefundState is the provider's view of a refund. Only RefundDone and RefundRejected are final;
// everything else is asked again later on the refund schedule (advance_refund.go).
type RefundState int

const (
	RefundPending    RefundState = iota // accepted (or outcome unknown), money not back yet
	RefundDone                          // money back with the buyer
	RefundRejected                      // final: will never happen (closed refund, not allowed, over the limit…)
	RefundUnknown                       // the provider does not know this refund: submit again, same number
	RefundRetryLater                    // not accepted now (balance too low, frequency limited, system error): same number later
	RefundAbnormal                      // WeChat ABNORMAL: the money waits at the provider until a person acts
)

// ErrTradePaid: Close found the trade paid (the caller queries it and records the payment).
var ErrTradePaid = errors.New("trade is already paid")

// NotifyRefusedError says why a notify was refused; it is logged with the notify.
type NotifyRefusedError struct {
	Reason     string
	OutTradeNo string
	NotifyID   string
}

func (e *NotifyRefusedError) Error() string { return "notify refused: " + e.Reason }

// Channel is a payment provider.
type Channel interface {
	// Prepay creates the provider trade (or, for the same OutTradeNo and order again, answers
	// what the provider answers for it: the same QR code, a fresh payUrl or prepay_id) and
	// returns what the buyer opens to pay it.
	Prepay(ctx context.Context, req PrepayRequest) (Checkout, error)
	// Query returns the trade's state; a trade the provider does not know is TradeWaiting.
	Query(ctx context.Context, outTradeNo string) (Trade, error)
	// Close closes an unpaid trade; ErrTradePaid if it was paid.
	Close(ctx context.Context, outTradeNo string) error
	// Refund submits a refund and QueryRefund asks after it; with RefundDone, when the provider
	// says the money went back (its gmt_refund_pay / success_time; zero when it does not say).
	Refund(ctx context.Context, req RefundRequest) (RefundState, time.Time, error)
	QueryRefund(ctx context.Context, outTradeNo, outRefundNo string) (RefundState, time.Time, error)
	// ParseNotify verifies an async notify (signature, our app/merchant id) and decodes it;
	// *NotifyRefusedError when it cannot be trusted.
	ParseNotify(msg NotifyMessage) (Notify, error)
	// VerifyReturn verifies the signed parameters the provider put on the buyer's return URL;
	// ErrNoSignedReturn for providers that sign none, another error when they do not verify.
	VerifyReturn(query string) (ReturnClaim, error)
}
