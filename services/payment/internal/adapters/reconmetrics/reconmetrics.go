// Package reconmetrics counts reconciliation runs and their discrepancies on the process-wide
// series of pkg/metrics (ReconRuns, ReconDiscrepancies by kind): the app's ReconObserver.
package reconmetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paysuite/paysuite/pkg/metrics"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// Observer counts on runs and discrepancies (nil fields: the pkg/metrics series).
type Observer struct {
	Runs          *prometheus.CounterVec // by result
	Discrepancies *prometheus.CounterVec // by kind
}

var _ app.ReconObserver = Observer{}

// New counts on the series every service's registry serves.
func New() Observer {
	return Observer{Runs: metrics.ReconRuns, Discrepancies: metrics.ReconDiscrepancies}
}

// ReconRun counts one run and each discrepancy it found, by kind.
func (o Observer) ReconRun(_ payment.Channel, failed bool, found []recon.Discrepancy) {
	result := metrics.ReconRunOK
	if failed {
		result = metrics.ReconRunFailed
	}
	o.Runs.WithLabelValues(result).Inc()
	for _, d := range found {
		o.Discrepancies.WithLabelValues(string(d.Kind)).Inc()
	}
}
