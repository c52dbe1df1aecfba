// Package recon holds what a reconciliation is: one provider's bill for one provider day
// compared with the ledger, the kinds of difference it can find and what is done about each.
// Plain Go: downloading and parsing bills live in adapters, the comparison in the app.
package recon

import (
	"errors"
	"fmt"
	"time"

	"github.com/paysuite/paysuite/pkg/inputerr"
	"github.com/paysuite/paysuite/pkg/money"
)

// Shanghai is the providers' day: a bill covers 00:00 to 24:00 Asia/Shanghai. A fixed +08:00
// zone (China has kept no daylight saving since 1991), so no tzdata is needed at run time.
var Shanghai = time.FixedZone("Asia/Shanghai", 8*60*60)

// DateLayout is the bill date as the providers and the API write it.
const DateLayout = "2006-01-02"

// Day is one provider day.
type Day struct{ Start time.Time } // 00:00 Asia/Shanghai

// ParseDay reads "YYYY-MM-DD" as a provider day; anything else is invalid input.
func ParseDay(s string) (Day, error) {
	t, err := time.ParseInLocation(DateLayout, s, Shanghai)
	if err != nil || t.Format(DateLayout) != s {
		return Day{}, ErrBadDate
	}
	return Day{Start: t}, nil
}

// DayOf is the provider day an instant falls in.
func DayOf(t time.Time) Day {
	s := t.In(Shanghai)
	return Day{Start: time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, Shanghai)}
}

func (d Day) String() string { return d.Start.Format(DateLayout) }
func (d Day) End() time.Time { return d.Start.AddDate(0, 0, 1) }
func (d Day) Next() Day      { return Day{Start: d.End()} }
func (d Day) Prev() Day      { return Day{Start: d.Start.AddDate(0, 0, -1)} }
func (d Day) Contains(t time.Time) bool {
	return !t.Before(d.Start) && t.Before(d.End())
}

// Input errors (InvalidArgument).
var (
	ErrBadDate       = inputerr.New("bill_date must be YYYY-MM-DD")
	ErrFutureDate    = inputerr.New("bill_date is not over yet: a provider bill covers a finished day (Asia/Shanghai)")
	ErrBeforeTrading = inputerr.New("bill_date is before the service's first trade")
	ErrBadChannel    = inputerr.New("channel must be a configured provider's channel: ALIPAY_QR (or ALIPAY_PAGE, ALIPAY_WAP: the same Alipay account's bill) or WECHAT_NATIVE (or WECHAT_JSAPI, WECHAT_H5)")
	ErrMissingID     = inputerr.New("reconciliation_id is required")
)

// ErrMerchantOnly: reconciliations are merchant staff's and operators' (PermissionDenied).
var ErrMerchantOnly = errors.New("reconciliations need the merchant role")

// Sentinels the error types below match (errors.Is), for mapping to codes.
var (
	ErrBillNotReady = errors.New("bill not ready")
	ErrBadBill      = errors.New("bill rejected")
)

// BillNotReadyError: the provider has no bill for the day yet (FailedPrecondition).
type BillNotReadyError struct {
	Day        Day
	RetryAfter time.Time // when asking again makes sense
	Provider   string    // the provider's own words
}

func (e *BillNotReadyError) Error() string {
	return fmt.Sprintf("the provider's bill for %s is not ready yet (%s); retry after %s", e.Day, e.Provider,
		e.RetryAfter.UTC().Format(time.RFC3339))
}

func (e *BillNotReadyError) Unwrap() error { return ErrBillNotReady }

// BadBillError: the file is corrupt, its hash or its totals do not hold. The run fails with it
// and changes nothing.
type BadBillError struct{ Reason string }

func (e *BadBillError) Error() string { return "bill rejected: " + e.Reason }

func (e *BadBillError) Unwrap() error { return ErrBadBill }

// RowKind is what a bill row records.
type RowKind int

const (
	RowPayment RowKind = iota + 1
	RowRefund
)

// Row is one line of a provider's bill, in fen. Amount is positive (the payment, or the money a
// refund gave back); Fee is what the provider charged on it (a refund row's fee is negative:
// the fee returned).
type Row struct {
	Kind            RowKind
	OutTradeNo      string
	ProviderTradeNo string
	OutRefundNo     string // refund rows
	Amount          money.Fen
	Fee             money.Fen
	At              time.Time // payment or refund completion time
}

// Totals are what a bill says about itself (comment lines, summary rows); the parser checks
// them against the rows it read.
type Totals struct {
	Payments, Refunds int
	PaidFen           money.Fen // sum of payment rows
	RefundedFen       money.Fen // sum of refund rows (positive)
	FeeFen            money.Fen // net fee (charged minus returned)
}

// Add counts one row.
func (t *Totals) Add(r Row) {
	if r.Kind == RowPayment {
		t.Payments++
		t.PaidFen += r.Amount
	} else {
		t.Refunds++
		t.RefundedFen += r.Amount
	}
	t.FeeFen += r.Fee
}

// Kind is a kind of discrepancy: a bill row and the ledger disagree.
type Kind string

const (
	// PaidNotRecorded: the provider says paid, our payment is not SUCCEEDED (lost notifies and
	// queries). Repaired through the one door a verified notify uses.
	PaidNotRecorded Kind = "PAID_NOT_RECORDED"
	// ConsoleRefund: a refund at the provider we never asked for (merchant staff in the
	// console). Recorded as a refund; the order follows.
	ConsoleRefund Kind = "CONSOLE_REFUND"
	// RefundNotSettled: the provider refunded, our refund of the same out_refund_no is still
	// PROCESSING (its query is due). The refund's own task settles it.
	RefundNotSettled Kind = "REFUND_NOT_SETTLED"
	// StatusDiffers: the provider refunded what we recorded as a FAILED refund. Needs a person.
	StatusDiffers Kind = "STATUS_DIFFERS"
	// AmountDiffers: the provider's amount is not ours. Needs a person; nothing changed.
	AmountDiffers Kind = "AMOUNT_DIFFERS"
	// MissingInBill: SUCCEEDED here (or a settled refund) in the day, absent from the bill.
	MissingInBill Kind = "MISSING_IN_BILL"
	// UnknownTrade: a trade that is not ours (another system on the merchant account). Listed.
	UnknownTrade Kind = "UNKNOWN_TRADE"
)

// Kinds are every kind of discrepancy, as the API, the anomalies and the metrics name them.
var Kinds = []Kind{PaidNotRecorded, ConsoleRefund, RefundNotSettled, StatusDiffers, AmountDiffers, MissingInBill, UnknownTrade}

// Action is what the reconciliation did about a discrepancy.
type Action string

const (
	ActionRecordedPayment Action = "RECORDED_PAYMENT" // through the notify door
	ActionRecordedRefund  Action = "RECORDED_REFUND"  // refund recorded, order told
	ActionRefundSettling  Action = "REFUND_SETTLING"  // the refund's task asked to query now
	ActionAnomaly         Action = "ANOMALY"          // handed to a person (anomalies)
	ActionListed          Action = "LISTED"           // not ours: listed, untouched
)

// Status of a run.
type Status string

const (
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
)

// Discrepancy is one difference found; (Kind, OutTradeNo, OutRefundNo) is unique in a run.
type Discrepancy struct {
	Kind        Kind
	OutTradeNo  string
	OutRefundNo string
	LedgerFen   money.Fen
	ProviderFen money.Fen
	Action      Action
	Detail      string
	// Ours, where known (for the anomaly a person gets); not part of the report.
	PaymentID, RefundID int64
}

// Key identifies a discrepancy within a reconciliation.
func (d Discrepancy) Key() string { return string(d.Kind) + "|" + d.OutTradeNo + "|" + d.OutRefundNo }

// Fee is the provider's fee on one payment or refund of the day.
type Fee struct {
	OutTradeNo  string
	OutRefundNo string    // "" for the payment's own fee
	GrossFen    money.Fen // the payment's amount, or minus the refund's
	FeeFen      money.Fen // charged (refunds: negative, returned)
}

// Reconciliation is one channel's bill for one day against the ledger. Reruns of the same day
// update the same reconciliation; discrepancies found once stay with their first action.
type Reconciliation struct {
	ID            int64
	Channel       string
	Day           Day
	Status        Status
	FailReason    string
	BillRows      int
	Matched       int
	GrossFen      money.Fen // payments of the day
	RefundFen     money.Fen // refunds of the day
	FeeFen        money.Fen // net fee
	NetFen        money.Fen // gross - refunds - fee
	Runs          int
	Discrepancies []Discrepancy
	CreatedAt     time.Time
	UpdatedAt     time.Time
}
