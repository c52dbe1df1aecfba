package app

import (
	"context"
	"time"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// ---- reconciliation ------------------------------------------------------------------------

// RawBill is a provider's bill file exactly as downloaded (Alipay: the zip; WeChat: the gzip),
// kept with the reconciliation. An empty Body is a day the provider has no rows for.
type RawBill struct {
	Name string
	Body []byte
	Hash string // what the provider vouched for (WeChat: SHA1 of the plain file), already checked
}

// BillSource is one provider's daily trade bill.
type BillSource interface {
	// FetchBill downloads the trade bill of day and checks what the provider vouches for
	// (WeChat's hash: a mismatch is *recon.BadBillError). *recon.BillNotReadyError when the
	// provider does not have it yet.
	FetchBill(ctx context.Context, day recon.Day) (RawBill, error)
	// ParseBill streams the rows of a fetched bill to fn and checks the totals the file states
	// about itself (*recon.BadBillError).
	ParseBill(raw RawBill, fn func(recon.Row) error) (recon.Totals, error)
}

// Reconciliations stores reconciliation runs and reads the ledger for them.
type Reconciliations interface {
	// LedgerDay streams into the index the payments of channels paid within [from, to)
	// (AddPayment, inDay) and the refunds settled within it (AddRefund, settledInDay) with
	// their payments (AddPayment, not inDay, when paid before).
	LedgerDay(ctx context.Context, chs []payment.Channel, from, to time.Time, into *LedgerIndex) error
	// LedgerTrades adds the payments of channels with these out_trade_nos that exist
	// (AddOutside) with all their refunds.
	LedgerTrades(ctx context.Context, chs []payment.Channel, outTradeNos []string, into *LedgerIndex) error
	// FirstPaymentAt is when the first payment attempt was created (zero: none yet).
	FirstPaymentAt(ctx context.Context) (time.Time, error)
	// ReconciliationOf returns the run of channel and day (payment.ErrNotFound if none).
	ReconciliationOf(ctx context.Context, ch payment.Channel, day recon.Day) (*recon.Reconciliation, error)
	GetReconciliation(ctx context.Context, id int64) (*recon.Reconciliation, error)
	// ListReconciliations returns the newest runs first (ch "" for all channels).
	ListReconciliations(ctx context.Context, ch payment.Channel, limit int) ([]*recon.Reconciliation, error)
	// SaveReconciliation writes the run (one per channel and day: a rerun updates it), adds the
	// discrepancies not stored yet (one stored keeps its first action) and keeps the raw file,
	// in one transaction (a FAILED run: the figures and fees of an earlier successful one stay).
	SaveReconciliation(ctx context.Context, r *recon.Reconciliation, raw RawBill) error
	// WriteFees starts storing a run of channel and day: its raw file (under reconID) and the
	// fees as the bill streams. Nothing is visible before the FeeWriter's Commit, which saves
	// the run as SaveReconciliation does, in the same transaction: a rerun replaces the day's
	// fees with its report at once.
	WriteFees(ctx context.Context, ch payment.Channel, day recon.Day, reconID int64, raw RawBill) (FeeWriter, error)
}

// FeeWriter takes the fees of one run as the bill is read.
type FeeWriter interface {
	Add(recon.Fee) error
	// Commit stores the fees, the raw file and the run r (SaveReconciliation's rules) at once.
	Commit(r *recon.Reconciliation) error
	// Abort stores nothing; it may follow a failed Commit.
	Abort()
}

// AnomalyRecorder opens a case for a person (the service's anomalies, GET /v1/anomalies);
// raising the same (Kind, Ref) again updates it.
type AnomalyRecorder interface {
	RecordAnomaly(ctx context.Context, a payment.Anomaly) error
}

// Leader says whether this replica is the one that runs a job now (pkg/leader.Lock).
type Leader interface {
	Hold(ctx context.Context) (bool, error)
}

// ReconObserver is told how each reconciliation run ended (the service's reconciliation
// metrics). found is what this run found that no earlier run of the same day had reported, so
// reruns count nothing twice. A day whose bill is not ready yet is no run.
type ReconObserver interface {
	ReconRun(ch payment.Channel, failed bool, found []recon.Discrepancy)
}
