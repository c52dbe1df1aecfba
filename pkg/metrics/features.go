package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paysuite/paysuite/pkg/db"
)

// Series of features that run inside shared code or are still being built (transaction
// retries in pkg/db, reconciliation): they are process wide (one process is one service; an in-process test suite shares them) and registered on
// every Registry. Call them from anywhere:
//
//	metrics.TxRetries.WithLabelValues(metrics.CauseDeadlock).Inc()
//	metrics.ReconDiscrepancies.WithLabelValues("AMOUNT_DIFFERS").Inc()
var (
	// TxRetries counts database transactions db.WithTx ran again, by cause.
	TxRetries = db.TxRetries
	// ReconDiscrepancies counts reconciliation findings, by kind (ReconKinds): each once, when
	// the run that first reports it is stored (reruns of a day count nothing twice).
	ReconDiscrepancies = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "recon_discrepancies_total", Help: "Reconciliation discrepancies found, by kind."}, []string{"kind"})
	// ReconRuns counts reconciliation runs, by result (ok, failed: a bill that cannot be
	// trusted, the provider or the database not answering; a bill not ready yet is no run).
	ReconRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "recon_runs_total",
		Help: "Reconciliation runs, by result."}, []string{"result"})
)

// Causes of a transaction retry (TxRetries' label values).
const (
	CauseDeadlock        = "deadlock"
	CauseLockWaitTimeout = "lock_wait_timeout"
	CauseGaleraConflict  = "galera_conflict"
	CauseConnection      = "connection"
)

// ReconKinds are the kinds of reconciliation discrepancy (ReconDiscrepancies' label values),
// as the payment service's reconciliation names them (its domain/recon.Kinds; a test there keeps
// the two lists equal) and the API reports them.
var ReconKinds = []string{
	"PAID_NOT_RECORDED",  // paid at the provider, not SUCCEEDED here: recorded through the notify door
	"CONSOLE_REFUND",     // refunded in the provider's console: recorded, the order follows
	"REFUND_NOT_SETTLED", // refunded at the provider, still PROCESSING here: the refund queries now
	"STATUS_DIFFERS",     // refunded at the provider, FAILED here: needs a person
	"AMOUNT_DIFFERS",     // the provider's amount is not ours: needs a person
	"MISSING_IN_BILL",    // SUCCEEDED here, absent from the provider's bill: needs a person
	"UNKNOWN_TRADE",      // not a paysuite trade: listed
}

// Results of a reconciliation run (ReconRuns' label values).
const (
	ReconRunOK     = "ok"
	ReconRunFailed = "failed"
)

var features = []prometheus.Collector{TxRetries, ReconDiscrepancies, ReconRuns}

func init() {
	for _, c := range []string{CauseDeadlock, CauseLockWaitTimeout, CauseGaleraConflict, CauseConnection} {
		TxRetries.WithLabelValues(c)
	}
	for _, k := range ReconKinds {
		ReconDiscrepancies.WithLabelValues(k)
	}
	for _, r := range []string{ReconRunOK, ReconRunFailed} {
		ReconRuns.WithLabelValues(r)
	}
	declare(Namespace+"_tx_retries_total", Namespace+"_recon_discrepancies_total", Namespace+"_recon_runs_total")
}

// NotifiesName is the provider notify series: notifies received, by channel and result
// (accepted, refused, oversize, unreadable, failed: our own error, the provider retries).
const NotifiesName = Namespace + "_notifies_total"

func init() { declare(NotifiesName) }

// NewNotifies registers the provider notify series on reg.
func NewNotifies(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: NotifiesName,
		Help: "Provider async notifies received, by channel and result."}, []string{"channel", "result"})
	reg.MustRegister(c)
	return c
}
