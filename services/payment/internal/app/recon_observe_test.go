package app

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// runLog is a ReconObserver that writes down what it is told.
type runLog struct{ runs []string }

func (l *runLog) ReconRun(ch payment.Channel, failed bool, found []recon.Discrepancy) {
	var ks []string
	for _, d := range found {
		ks = append(ks, string(d.Kind))
	}
	slices.Sort(ks)
	l.runs = append(l.runs, fmt.Sprintf("%s failed=%v %v", ch, failed, ks))
}

// Each run is observed once with what it newly found: a rerun of the day reports nothing twice,
// a bill that cannot be trusted is a failed run, and a bill not ready yet is no run at all.
func TestReconcileTellsTheObserverWhatEachRunFound(t *testing.T) {
	store, bill := mixedDay()
	recons := newRecons(store)
	a := reconApp(store, recons, bill)
	log := &runLog{}
	a.reconObs = log
	ctx := context.Background()
	for range 2 {
		if _, err := a.RunReconciliation(ctx, merchant, payment.ChannelAlipayQR, day.String()); err != nil {
			t.Fatal(err)
		}
	}
	bill.fetchErr = &recon.BillNotReadyError{Day: day}
	if _, err := a.RunReconciliation(ctx, merchant, payment.ChannelAlipayQR, day.String()); err == nil {
		t.Fatal("a bill not ready reconciled")
	}
	bill.fetchErr, bill.parseErr = nil, &recon.BadBillError{Reason: "totals do not hold"}
	if _, err := a.RunReconciliation(ctx, merchant, payment.ChannelAlipayQR, day.String()); err == nil {
		t.Fatal("a corrupt bill reconciled")
	}
	want := []string{
		"ALIPAY_QR failed=false [AMOUNT_DIFFERS CONSOLE_REFUND MISSING_IN_BILL PAID_NOT_RECORDED UNKNOWN_TRADE]",
		"ALIPAY_QR failed=false []",
		"ALIPAY_QR failed=true []",
	}
	if fmt.Sprint(log.runs) != fmt.Sprint(want) {
		t.Fatalf("observed\n%q\nwant\n%q", log.runs, want)
	}
}
