package service_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/cli"
	"github.com/paysuite/paysuite/pkg/metrics"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// paysuite runs the operator's CLI (bin/paysuite) against the stack as admin, over mutual TLS,
// and returns its exit code, stdout and stderr.
func (s *stack) paysuite(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"--tls-dir", s.infra.TLSDir(), "--order-addr", s.grpcAddrs[tlsx.Order],
		"--payment-addr", s.grpcAddrs[tlsx.Payment], "--notification-addr", s.grpcAddrs[tlsx.Notification]}, args...)
	code := cli.Execute(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// sandboxFaults arms the sandbox's fault injection (CONTRACT.md, "Sandbox").
func (s *stack) sandboxFaults(t *testing.T, faults map[string]int) {
	t.Helper()
	b, _ := json.Marshal(faults)
	resp, err := http.Post(s.sandboxURL+"/sandbox/faults", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("sandbox faults %v: %s", faults, resp.Status)
	}
}

// paidButUnnotified is a purchase the buyer paid in the sandbox whose notify the sandbox drops:
// with polling far away (a large PAYMENT_POLL_SCALE) nothing tells paysuite. It returns the
// order id, the payment id and the payment's out_trade_no.
func paidButUnnotified(t *testing.T, s *stack, requestID string) (string, string, string) {
	t.Helper()
	user := testkit.UniqueName("buyer")
	b := s.asUser(user)
	orderID := b.expect(t, b.do(t, "POST", "/v1/orders", order(user, requestID, "course-go-concurrency")), 200, "order").str("orderId")
	pay := b.expect(t, b.do(t, "POST", "/v1/orders/"+orderID+"/payments", map[string]any{"channel": "ALIPAY_QR"}), 200, "pay")
	s.sandboxFaults(t, map[string]int{"dropNotifies": 1})
	b.expect(t, b.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": pay.str("qrCode")}), 200, "the buyer pays in the sandbox")
	paymentID := pay.str("paymentId")
	if st := b.do(t, "GET", "/v1/payments/"+paymentID, nil).str("status"); st != "WAITING" {
		t.Fatalf("payment %s is %s before anyone asked the provider: the notify was not dropped or polling came first", paymentID, st)
	}
	return orderID, paymentID, pay.str("outTradeNo")
}

// `paysuite payment sync` of a payment the buyer paid but paysuite never heard of (the notify
// dropped, the next poll far away) asks the provider now: the payment becomes SUCCEEDED and the
// order follows (PAID), as after a poll. A second sync finds nothing to do; an unknown id is
// NotFound; a malformed one is bad usage.
func TestPaymentSyncRecordsAPaidButUnnotifiedPayment(t *testing.T) {
	s := startStack(t, func(o *stackOptions) { o.pollScale = 1000 }) // the first poll 5000 s after the trade
	orderID, paymentID, _ := paidButUnnotified(t, s, "sync-1")

	code, out, errOut := s.paysuite(t, "payment", "sync", paymentID, "-o", "json")
	var got map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("payment sync: exit %d: %s %s", code, out, errOut)
	}
	if got["status"] != "SUCCEEDED" || got["paymentId"] != paymentID || got["providerTradeNo"] == nil ||
		!strings.Contains(errOut, "WAITING -> SUCCEEDED") {
		t.Fatalf("payment sync answered %s (stderr %q), want it SUCCEEDED", out, errOut)
	}
	testkit.Eventually(t, 30*time.Second, func() bool {
		code, out, _ := s.paysuite(t, "order", "get", orderID, "-o", "json")
		var o map[string]any
		return code == 0 && json.Unmarshal([]byte(out), &o) == nil && o["status"] == "PAID" && o["paymentId"] == paymentID
	}, "order %s never became PAID after the sync", orderID)

	code, out, errOut = s.paysuite(t, "payment", "sync", paymentID)
	if code != 0 || !strings.Contains(out, "SUCCEEDED") || !strings.Contains(errOut, "unchanged") {
		t.Fatalf("second sync: exit %d: %s %s", code, out, errOut)
	}
	t.Logf("paysuite payment sync %s (again):\n%s%s", paymentID, errOut, out)
	if code, _, errOut := s.paysuite(t, "payment", "sync", "123456789"); code != 1 || !strings.Contains(errOut, "NotFound") {
		t.Fatalf("sync of an unknown payment: exit %d: %s", code, errOut)
	}
	if code, _, errOut := s.paysuite(t, "payment", "sync", "x1"); code != 2 {
		t.Fatalf("sync x1: exit %d: %s", code, errOut)
	}
}

// `paysuite recon run` reconciles a day through the CLI and shows the report; `recon show`
// prints it again by id and `recon list` lists it; -o json parses. The run's new discrepancies
// are counted on the payment service's /metrics by kind, once: a rerun of the day adds runs, not
// discrepancies. Bad flags are usage errors (exit 2); what the service refuses exits 1 with its
// reason.
func TestReconThroughTheCLICountsDiscrepanciesByKind(t *testing.T) {
	s := startStack(t, withOps(), func(o *stackOptions) { o.billsNow, o.pollScale = true, 1000 })
	// One purchase paid but never notified (PAID_NOT_RECORDED), one refunded in the provider's
	// console (CONSOLE_REFUND).
	lostOrder, _, lostTrade := paidButUnnotified(t, s, "recon-1")
	user := testkit.UniqueName("buyer")
	b := s.asUser(user)
	orderID := b.expect(t, b.do(t, "POST", "/v1/orders", order(user, "recon-2", "course-payments-101")), 200, "order").str("orderId")
	pay := b.expect(t, b.do(t, "POST", "/v1/orders/"+orderID+"/payments", map[string]any{"channel": "ALIPAY_QR"}), 200, "pay")
	b.expect(t, b.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": pay.str("qrCode")}), 200, "the buyer pays")
	testkit.Eventually(t, 30*time.Second, func() bool {
		return b.do(t, "GET", "/v1/orders/"+orderID, nil).str("status") == "PAID"
	}, "order %s never became PAID", orderID)
	consoleTrade := pay.str("outTradeNo")
	body, _ := json.Marshal(map[string]any{"outTradeNo": consoleTrade, "amountFen": 9900})
	res, err := http.Post(s.sandboxURL+"/sandbox/console/refund", "application/json", bytes.NewReader(body))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("console refund: %v %v", res, err)
	}
	res.Body.Close()

	counts := func() map[string]float64 {
		m := s.scrape(t, tlsx.Payment)
		out := map[string]float64{"runs ok": sample(m, metrics.Namespace+"_recon_runs_total", "result", metrics.ReconRunOK)}
		for _, k := range metrics.ReconKinds {
			out[k] = sample(m, metrics.Namespace+"_recon_discrepancies_total", "kind", k)
		}
		return out
	}
	before := counts()
	day := time.Now().UTC().Add(8 * time.Hour).Format(time.DateOnly) // today in Asia/Shanghai
	code, out, errOut := s.paysuite(t, "recon", "run", "--channel", "ALIPAY_QR", "--date", day, "-o", "json")
	var report struct {
		ReconciliationID string `json:"reconciliationId"`
		Status, BillDate string
		Discrepancies    []struct{ Kind, OutTradeNo, Action string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &report) != nil {
		t.Fatalf("recon run: exit %d: %s %s", code, out, errOut)
	}
	kinds := map[string]string{}
	for _, d := range report.Discrepancies {
		kinds[d.OutTradeNo] = d.Kind
	}
	if report.Status != "SUCCEEDED" || report.BillDate != day || report.ReconciliationID == "" ||
		kinds[lostTrade] != "PAID_NOT_RECORDED" || kinds[consoleTrade] != "CONSOLE_REFUND" || len(kinds) != 2 {
		t.Fatalf("recon run report: %s", out)
	}
	after := counts()
	for k, want := range map[string]float64{"PAID_NOT_RECORDED": 1, "CONSOLE_REFUND": 1, "runs ok": 1, "AMOUNT_DIFFERS": 0, "UNKNOWN_TRADE": 0} {
		if got := after[k] - before[k]; got != want || after[k] < 0 {
			t.Errorf("recon series %s grew by %v (%v -> %v), want %v", k, got, before[k], after[k], want)
		}
	}
	// The repair went through the notify's door: the lost payment's order follows.
	testkit.Eventually(t, 30*time.Second, func() bool {
		code, out, _ := s.paysuite(t, "order", "get", lostOrder, "-o", "json")
		return code == 0 && strings.Contains(out, `"PAID"`)
	}, "the unnotified order never became PAID after the reconciliation")

	// show, by id: the table names both discrepancies; JSON is the same run.
	code, out, errOut = s.paysuite(t, "recon", "show", report.ReconciliationID)
	if code != 0 || !strings.Contains(out, "PAID_NOT_RECORDED") || !strings.Contains(out, "CONSOLE_REFUND") ||
		!strings.Contains(out, consoleTrade) || !strings.Contains(out, "RECORDED_PAYMENT") || !strings.Contains(out, day) {
		t.Fatalf("recon show: exit %d: %s %s", code, out, errOut)
	}
	t.Logf("paysuite recon show %s:\n%s", report.ReconciliationID, out)
	var shown map[string]any
	code, out, errOut = s.paysuite(t, "recon", "show", report.ReconciliationID, "-o", "json")
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil || shown["reconciliationId"] != report.ReconciliationID {
		t.Fatalf("recon show -o json: exit %d: %s %s", code, out, errOut)
	}
	code, out, errOut = s.paysuite(t, "recon", "list", "--channel", "ALIPAY_QR")
	// The list RPC carries no discrepancies: the table must not show a count of them (it read 0).
	if code != 0 || !strings.Contains(out, report.ReconciliationID) || !strings.Contains(out, "SUCCEEDED") ||
		strings.Contains(out, "DISCREPANCIES") {
		t.Fatalf("recon list: exit %d: %s %s", code, out, errOut)
	}

	// A rerun of the day is one more run, and no discrepancy is counted twice.
	if code, out, errOut := s.paysuite(t, "recon", "run", "--channel", "ALIPAY_QR", "--date", day); code != 0 ||
		!strings.Contains(out, report.ReconciliationID) {
		t.Fatalf("recon rerun: exit %d: %s %s", code, out, errOut)
	}
	again := counts()
	for k, want := range map[string]float64{"PAID_NOT_RECORDED": 0, "CONSOLE_REFUND": 0, "runs ok": 1} {
		if got := again[k] - after[k]; got != want {
			t.Errorf("after the rerun, %s grew by %v, want %v", k, got, want)
		}
	}

	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"recon", "run", "--channel", "BITCOIN", "--date", day}, 2, "--channel"},
		{[]string{"recon", "run", "--channel", "ALIPAY_QR", "--date", "2026-02-30"}, 2, "--date"},
		{[]string{"recon", "run", "--channel", "ALIPAY_QR"}, 2, "--date is required"},
		{[]string{"recon", "run", "--date", day}, 2, "--channel is required"},
		{[]string{"recon", "run", "--channel", "ALIPAY_QR", "--date", "2999-01-01"}, 1, "InvalidArgument"},
		{[]string{"recon", "run", "--channel", "ALIPAY_QR", "--date", "2001-01-01"}, 1, "InvalidArgument"},
		{[]string{"recon", "show", "123456789"}, 1, "NotFound"},
		{[]string{"recon", "show", "abc"}, 2, "reconciliation id"},
		{[]string{"recon", "list", "--limit", "0"}, 2, "--limit"},
	} {
		if code, _, errOut := s.paysuite(t, c.args...); code != c.code || !strings.Contains(errOut, c.says) {
			t.Errorf("%v: exit %d (%q), want %d saying %q", c.args, code, errOut, c.code, c.says)
		}
	}
}

// `paysuite refund sync` of a refund the provider finished but paysuite never heard of (it was
// PROCESSING when asked, its notify dropped, its next check far away) runs the refund's own
// steps now: REFUND_SUCCEEDED, and the order follows (REFUNDED).
func TestRefundSyncSettlesAProcessingRefund(t *testing.T) {
	s := startStack(t, func(o *stackOptions) { o.pollScale = 1000 }) // the first refund check 10000 s after it
	user := testkit.UniqueName("buyer")
	b := s.asUser(user)
	merchant := s.as(s.tokens.Merchant("staff"))
	orderID := b.expect(t, b.do(t, "POST", "/v1/orders", order(user, "refund-sync-1", "goods-gopher-mug")), 200, "order").str("orderId")
	pay := b.expect(t, b.do(t, "POST", "/v1/orders/"+orderID+"/payments", map[string]any{"channel": "WECHAT_NATIVE"}), 200, "pay")
	b.expect(t, b.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": pay.str("qrCode")}), 200, "the buyer pays")
	testkit.Eventually(t, 30*time.Second, func() bool {
		return b.do(t, "GET", "/v1/orders/"+orderID, nil).str("status") == "PAID"
	}, "order %s never became PAID", orderID)

	// The provider holds the refund PROCESSING a moment, then finishes it; its notify is lost.
	s.sandboxFaults(t, map[string]int{"refundProcessingMs": 200, "dropNotifies": 1})
	ref := merchant.expect(t, merchant.do(t, "POST", "/v1/payments/"+pay.str("paymentId")+":refund",
		map[string]any{"requestId": "sync-r1", "reason": "damaged", "items": []map[string]any{{"skuId": "goods-gopher-mug", "quantity": 1}}}),
		200, "refund")
	refundID := ref.str("refundId")
	if ref.str("status") != "REFUND_PROCESSING" {
		t.Fatalf("refund answered %s, want REFUND_PROCESSING (the sandbox holds it)", ref.Raw)
	}
	testkit.Eventually(t, 30*time.Second, func() bool {
		code, out, _ := s.paysuite(t, "refund", "sync", refundID, "-o", "json")
		var r map[string]any
		return code == 0 && json.Unmarshal([]byte(out), &r) == nil && r["status"] == "REFUND_SUCCEEDED"
	}, "refund sync never saw refund %s SUCCEEDED", refundID)
	testkit.Eventually(t, 30*time.Second, func() bool {
		return b.do(t, "GET", "/v1/orders/"+orderID, nil).str("status") == "REFUNDED"
	}, "order %s never followed the synced refund", orderID)
	if code, out, errOut := s.paysuite(t, "refund", "get", refundID); code != 0 || !strings.Contains(out, "REFUND_SUCCEEDED") {
		t.Fatalf("refund get: exit %d: %s %s", code, out, errOut)
	}
	if code, _, errOut := s.paysuite(t, "refund", "sync", "123456789"); code != 1 || !strings.Contains(errOut, "NotFound") {
		t.Fatalf("sync of an unknown refund: exit %d: %s", code, errOut)
	}
}
