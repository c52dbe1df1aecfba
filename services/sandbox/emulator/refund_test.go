package emulator_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/alipay"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

// alipayNotifies is every notify rc got, verified and parsed.
func (s *sandbox) alipayNotifies(t *testing.T, rc *receiver) []gopay.BodyMap {
	t.Helper()
	var out []gopay.BodyMap
	for i := range rc.count() {
		bm, err := alipay.ParseNotifyToBodyMap(rc.request(i))
		if err != nil {
			t.Fatal(err)
		}
		fields := gopay.BodyMap{}
		for k, v := range bm {
			fields[k] = v
		}
		if ok, err := alipay.VerifySign(pemBody(s.creds.Alipay.AlipayPublicKey), bm); !ok {
			t.Fatalf("notify %d signature: %v", i, err)
		}
		out = append(out, fields)
	}
	return out
}

func paidAlipayTrade(t *testing.T, s *sandbox, c *alipay.Client, no, amount, notifyURL string) {
	t.Helper()
	if code := s.pay(t, precreate(t, c, no, amount, notifyURL)); code != http.StatusOK {
		t.Fatalf("pay %s: HTTP %d", no, code)
	}
}

// A partial refund notifies TRADE_SUCCESS with the refund fields on every product; a refund that
// completes the trade's refunds notifies TRADE_CLOSED only for WAP.
func TestAlipayRefundNotifiesPerProduct(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	qrRC, wapRC := newReceiver(t, alipayOK), newReceiver(t, alipayOK)

	paidAlipayTrade(t, s, c, "AR1001", "10.00", qrRC.srv.URL)
	testkit.Eventually(t, waitLong, func() bool { return s.trade(t, "AR1001").Notify.Acked }, "payment notify")
	if r, err := refund(c, "AR1001", "AR1001-1", "4.00"); err != nil || r.Response.FundChange != "Y" {
		t.Fatalf("partial refund: %+v %v", r, err)
	}
	if r, err := refund(c, "AR1001", "AR1001-2", "6.00"); err != nil || r.Response.FundChange != "Y" || r.Response.RefundFee != "10.00" {
		t.Fatalf("refund of the rest: %+v %v", r, err)
	}
	testkit.Eventually(t, waitLong, func() bool { return qrRC.count() >= 2 }, "no partial refund notify")
	n := s.alipayNotifies(t, qrRC)[1]
	for k, want := range map[string]string{"trade_status": "TRADE_SUCCESS", "out_biz_no": "AR1001-1", "refund_fee": "4.00",
		"total_amount": "10.00", "notify_type": "trade_status_sync", "gmt_close": ""} {
		if got := n.GetString(k); got != want {
			t.Errorf("partial refund notify %s = %q, want %q", k, got, want)
		}
	}
	if len(n.GetString("gmt_refund")) != len("2006-01-02 15:04:05.000") || n.GetString("notify_id") == s.trade(t, "AR1001").Notify.ID {
		t.Errorf("partial refund notify: gmt_refund %q, notify_id %q (must be its own)", n.GetString("gmt_refund"), n.GetString("notify_id"))
	}
	if tr := s.trade(t, "AR1001"); tr.Refunds[1].Notify != nil {
		t.Fatalf("a precreate full refund armed a notify: %+v", tr.Refunds[1].Notify)
	}

	payURL := s.pageURL(t, c, true, gopay.BodyMap{"out_trade_no": "AR2001", "total_amount": "5.00", "subject": "Go course",
		"notify_url": wapRC.srv.URL})
	if code := s.do(t, http.MethodPost, "/sandbox/pay", map[string]string{"payUrl": payURL}, nil); code != http.StatusOK {
		t.Fatalf("WAP pay: HTTP %d", code)
	}
	if r, err := refund(c, "AR2001", "AR2001-1", "5.00"); err != nil || r.Response.FundChange != "Y" {
		t.Fatalf("full WAP refund: %+v %v", r, err)
	}
	testkit.Eventually(t, waitLong, func() bool { return wapRC.count() >= 2 }, "no full refund notify for WAP")
	n = s.alipayNotifies(t, wapRC)[1]
	for k, want := range map[string]string{"trade_status": "TRADE_CLOSED", "out_biz_no": "AR2001-1", "refund_fee": "5.00"} {
		if got := n.GetString(k); got != want {
			t.Errorf("full refund notify %s = %q, want %q", k, got, want)
		}
	}
	if n.GetString("gmt_close") == "" || n.GetString("gmt_refund") == "" || n.GetString("gmt_payment") == "" {
		t.Errorf("full refund notify lacks gmt_close/gmt_refund/gmt_payment: %v", n)
	}
}

// refundProcessingMs: the refund answers fund_change N, the refund query shows nothing until the
// refund went through, and only then does the notify go out.
func TestAlipayRefundProcessing(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	rc := newReceiver(t, alipayOK)
	paidAlipayTrade(t, s, c, "AR3001", "10.00", rc.srv.URL)
	testkit.Eventually(t, waitLong, func() bool { return s.trade(t, "AR3001").Notify.Acked }, "payment notify")
	s.faults(t, map[string]any{"refundProcessingMs": 3000})

	r, err := refund(c, "AR3001", "AR3001-1", "2.00")
	if err != nil || r.Response.FundChange != "N" || r.Response.RefundFee != "0.00" {
		t.Fatalf("refund while processing: %+v %v, want fund_change N", r, err)
	}
	q, err := c.TradeFastPayRefundQuery(context.Background(), gopay.BodyMap{"out_trade_no": "AR3001", "out_request_no": "AR3001-1"})
	if err != nil || q.Response.RefundStatus != "" || q.Response.RefundAmount != "" || q.Response.OutRequestNo != "" {
		t.Fatalf("refund query while processing shows refund data: %+v %v", q, err)
	}
	if rc.count() != 1 || s.trade(t, "AR3001").Refunds[0].Status != emulator.RefundProcessing {
		t.Fatalf("refund notify before the refund went through (%d notifies), status %s", rc.count(), s.trade(t, "AR3001").Refunds[0].Status)
	}
	testkit.Eventually(t, waitLong, func() bool {
		q, err := c.TradeFastPayRefundQuery(context.Background(), gopay.BodyMap{"out_trade_no": "AR3001", "out_request_no": "AR3001-1"})
		return err == nil && q.Response.RefundStatus == "REFUND_SUCCESS" && q.Response.RefundAmount == "2.00"
	}, "refund never went through")
	testkit.Eventually(t, waitLong, func() bool { return rc.count() >= 2 }, "no refund notify after the refund went through")
	if again, err := refund(c, "AR3001", "AR3001-1", "2.00"); err != nil || again.Response.FundChange != "N" || again.Response.RefundFee != "2.00" {
		t.Fatalf("repeated refund: %+v %v", again, err)
	}
	if _, err := refund(c, "AR3001", "AR3001-1", "3.00"); bizCode(t, err) != "40004 ACQ.DISCORDANT_REPEAT_REQUEST" {
		t.Fatalf("same out_request_no, other amount: %v", err)
	}
}

func TestAlipayRefundRefusals(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	paidAlipayTrade(t, s, c, "AR4001", "10.00", "")
	s.faults(t, map[string]any{"refundNotEnough": 2, "refundFrequencyLimited": 1, "refundAbnormal": 1})

	for i, want := range []string{"40005 isv.method-call-limited", "40004 ACQ.SELLER_BALANCE_NOT_ENOUGH",
		"40004 ACQ.SELLER_BALANCE_NOT_ENOUGH", "40004 ACQ.TRADE_NOT_ALLOW_REFUND"} {
		if _, err := refund(c, "AR4001", "AR4001-1", "1.00"); bizCode(t, err) != want {
			t.Fatalf("refund attempt %d = %v, want %s", i+1, err, want)
		}
	}
	if tr := s.trade(t, "AR4001"); len(tr.Refunds) != 0 {
		t.Fatalf("refused refunds were recorded: %+v", tr.Refunds)
	}
	if r, err := refund(c, "AR4001", "AR4001-1", "1.00"); err != nil || r.Response.FundChange != "Y" {
		t.Fatalf("refund once the faults are used up: %+v %v", r, err)
	}
	var f emulator.Faults
	if s.do(t, http.MethodGet, "/sandbox/faults", nil, &f); f != (emulator.Faults{}) {
		t.Fatalf("faults left: %+v", f)
	}
}
