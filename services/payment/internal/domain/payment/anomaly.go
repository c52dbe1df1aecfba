package payment

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
)

// AnomalyKind names money that needs a person: paysuite cannot settle it by itself, so it is
// stored, counted and listed (GET /v1/anomalies), never dropped.
type AnomalyKind string

const (
	// AnomalyRefundAbnormal: WeChat REFUND.ABNORMAL — the buyer's card or account cannot take the
	// money back; it waits at the provider until someone applies for an abnormal refund.
	AnomalyRefundAbnormal AnomalyKind = "REFUND_ABNORMAL"
	// AnomalyRefundClosed: WeChat closed the refund (CLOSED): nothing went back.
	AnomalyRefundClosed AnomalyKind = "REFUND_CLOSED"
	// AnomalyRefundRefused: the provider refused the refund for good (e.g. Alipay
	// ACQ.TRADE_NOT_ALLOW_REFUND, WeChat USER_ACCOUNT_ABNORMAL).
	AnomalyRefundRefused AnomalyKind = "REFUND_REFUSED"
	// AnomalyRefundStuck: the refund is still not through after RefundStuckAfter.
	AnomalyRefundStuck AnomalyKind = "REFUND_STUCK"
	// AnomalyAmountMismatch: the provider reports another paid amount than our trade's.
	AnomalyAmountMismatch AnomalyKind = "AMOUNT_MISMATCH"
)

// AnomalyState: OPEN until a person (or the provider's later word) settles it.
type AnomalyState string

const (
	AnomalyOpen     AnomalyState = "OPEN"
	AnomalyResolved AnomalyState = "RESOLVED"
)

// Anomaly is one case for a person. (Kind, Ref) is unique: raising it again updates Tried.
type Anomaly struct {
	ID                int64
	Kind              AnomalyKind
	State             AnomalyState
	PaymentID         int64
	RefundID          int64
	OrderID           int64
	Channel           Channel
	OutTradeNo        string
	OutRefundNo       string
	AmountFen         money.Fen // ours: the trade's or the refund's amount
	ProviderAmountFen money.Fen // what the provider says, where it differs
	Detail            string    // what happened, in the provider's words where there are some
	Tried             string    // what paysuite did about it
	CreatedAt         time.Time
	UpdatedAt         time.Time
	ResolvedAt        time.Time
}

// Ref is the unique key of the case: one per refund (refund kinds) or payment (payment kinds),
// or, for a trade that is not ours (a bill row nobody knows), per its numbers at the provider.
func (a *Anomaly) Ref() string {
	switch {
	case a.RefundID != 0:
		return fmt.Sprintf("%s:refund:%d", a.Kind, a.RefundID)
	case a.PaymentID == 0 && a.OutTradeNo != "":
		ref := fmt.Sprintf("%s:trade:%s:%s:%s", a.Kind, a.Channel, a.OutTradeNo, a.OutRefundNo)
		if len(ref) > 96 { // the column's width
			sum := sha256.Sum256([]byte(ref))
			ref = fmt.Sprintf("%s:trade:%x", a.Kind, sum[:16])
		}
		return ref
	}
	return fmt.Sprintf("%s:payment:%d", a.Kind, a.PaymentID)
}

// RefundAnomaly opens a case about refund r of payment p.
func RefundAnomaly(kind AnomalyKind, p *Payment, r *Refund, detail, tried string, now time.Time) Anomaly {
	now = now.UTC().Truncate(time.Microsecond)
	return Anomaly{
		Kind: kind, State: AnomalyOpen, PaymentID: p.ID, RefundID: r.ID, OrderID: p.OrderID, Channel: p.Channel,
		OutTradeNo: p.OutTradeNo, OutRefundNo: r.OutRefundNo, AmountFen: r.Amount, Detail: detail, Tried: tried,
		CreatedAt: now, UpdatedAt: now,
	}
}
