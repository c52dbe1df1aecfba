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
//	metrics.ReconDiscrepancies.WithLabelValues("amount_mismatch").Add(n)
var (
	// TxRetries counts database transactions db.WithTx ran again, by cause.
	TxRetries = db.TxRetries
	// ReconDiscrepancies counts reconciliation findings, by kind.
	ReconDiscrepancies = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "recon_discrepancies_total", Help: "Reconciliation discrepancies found, by kind."}, []string{"kind"})
	// ReconRuns counts reconciliation runs, by result (ok, failed).
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

// Kinds of reconciliation discrepancy the alert rules know (ReconDiscrepancies' label values).
const (
	ReconMissingLocal    = "missing_local"    // the provider has a paid trade we do not
	ReconMissingProvider = "missing_provider" // we have a paid payment the provider does not
	ReconAmountMismatch  = "amount_mismatch"
	ReconStatusMismatch  = "status_mismatch"
)

var features = []prometheus.Collector{TxRetries, ReconDiscrepancies, ReconRuns}

func init() {
	for _, c := range []string{CauseDeadlock, CauseLockWaitTimeout, CauseGaleraConflict, CauseConnection} {
		TxRetries.WithLabelValues(c)
	}
	for _, k := range []string{ReconMissingLocal, ReconMissingProvider, ReconAmountMismatch, ReconStatusMismatch} {
		ReconDiscrepancies.WithLabelValues(k)
	}
	for _, r := range []string{"ok", "failed"} {
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
