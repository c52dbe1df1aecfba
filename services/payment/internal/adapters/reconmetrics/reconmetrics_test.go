package reconmetrics_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/paysuite/paysuite/pkg/metrics"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/reconmetrics"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// A run's discrepancies are counted by their kind, as the API names it, and the run by result,
// on a registry read back in the Prometheus text format.
func TestARunCountsItsDiscrepanciesByKind(t *testing.T) {
	reg := prometheus.NewRegistry()
	o := reconmetrics.Observer{
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paysuite_recon_runs_total"}, []string{"result"}),
		Discrepancies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paysuite_recon_discrepancies_total"},
			[]string{"kind"}),
	}
	reg.MustRegister(o.Runs, o.Discrepancies)
	o.ReconRun(payment.ChannelAlipayQR, false, []recon.Discrepancy{
		{Kind: recon.PaidNotRecorded, OutTradeNo: "PS1"}, {Kind: recon.ConsoleRefund, OutTradeNo: "PS2", OutRefundNo: "C1"},
		{Kind: recon.ConsoleRefund, OutTradeNo: "PS3", OutRefundNo: "C2"},
	})
	o.ReconRun(payment.ChannelWechatNative, true, nil)
	want := `
# HELP paysuite_recon_discrepancies_total 
# TYPE paysuite_recon_discrepancies_total counter
paysuite_recon_discrepancies_total{kind="CONSOLE_REFUND"} 2
paysuite_recon_discrepancies_total{kind="PAID_NOT_RECORDED"} 1
# HELP paysuite_recon_runs_total 
# TYPE paysuite_recon_runs_total counter
paysuite_recon_runs_total{result="failed"} 1
paysuite_recon_runs_total{result="ok"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// The series' kind label values are exactly the kinds reconciliation reports, so the alert
// rules and the dashboard, which name pkg/metrics' list, see every kind.
func TestMetricKindsAreTheDiscrepancyKinds(t *testing.T) {
	var kinds []string
	for _, k := range recon.Kinds {
		kinds = append(kinds, string(k))
	}
	slices.Sort(kinds)
	want := slices.Sorted(slices.Values(metrics.ReconKinds))
	if !slices.Equal(kinds, want) {
		t.Fatalf("recon.Kinds %v, metrics.ReconKinds %v", kinds, want)
	}
}
