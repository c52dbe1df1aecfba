package emulator_test

import (
	"context"
	"crypto/rsa"
	"net/http"
	"testing"

	"github.com/go-pay/gopay"
	wechat "github.com/go-pay/gopay/wechat/v3"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

func wxRefundTo(c *wechat.ClientV3, outTradeNo, outRefundNo string, refund, total int, notifyURL string) (*wechat.RefundRsp, error) {
	bm := gopay.BodyMap{}
	bm.Set("out_trade_no", outTradeNo).Set("out_refund_no", outRefundNo).Set("notify_url", notifyURL).
		SetBodyMap("amount", func(b gopay.BodyMap) { b.Set("refund", refund).Set("total", total).Set("currency", "CNY") })
	return c.V3Refund(context.Background(), bm)
}

// refundNotify verifies and decrypts the i-th notify of rc as a refund notify.
func (s *sandbox) refundNotify(t *testing.T, rc *receiver, i int) (string, *wechat.V3DecryptRefundResult) {
	t.Helper()
	req, err := wechat.V3ParseNotify(rc.request(i))
	if err != nil {
		t.Fatal(err)
	}
	if err := req.VerifySignByPK(parsePub(t, s.creds.Wechat.WechatPayPublicKey).(*rsa.PublicKey)); err != nil {
		t.Fatalf("refund notify signature: %v", err)
	}
	res, err := req.DecryptRefundCipherText(s.creds.Wechat.APIv3Key)
	if err != nil {
		t.Fatal(err)
	}
	return req.EventType, res
}

func paidWechatTrade(t *testing.T, s *sandbox, c *wechat.ClientV3, no string, total int) {
	t.Helper()
	if code := s.pay(t, mustNative(t, s, c, no, total, "http://127.0.0.1:1/n")); code != http.StatusOK {
		t.Fatalf("pay %s: HTTP %d", no, code)
	}
}

func TestWechatRefundNotifies(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	rc := newReceiver(t, wechatOK)
	paidWechatTrade(t, s, c, "WR100001", 1000)
	s.faults(t, map[string]any{"refundAbnormal": 1, "refundClosed": 1})

	for _, no := range []string{"WR-ABNORMAL", "WR-CLOSED", "WR-SUCCESS"} {
		r, err := wxRefundTo(c, "WR100001", no, 300, 1000, rc.srv.URL+"/notify/wechat/refund")
		if err != nil || r.Code != wechat.Success || r.Response.Status != "PROCESSING" {
			t.Fatalf("refund %s: %+v %v", no, r, err)
		}
	}
	if r, _ := wxRefundTo(c, "WR100001", "WR-NONOTIFY", 100, 1000, ""); r.Code != wechat.Success {
		t.Fatalf("refund without notify_url: %+v", r)
	}
	testkit.Eventually(t, waitLong, func() bool { return rc.count() >= 3 }, "want 3 refund notifies, got %d", rc.count())
	got := map[string]string{}
	for i := range rc.count() {
		event, res := s.refundNotify(t, rc, i)
		if res.Mchid != w.MchID || res.OutTradeNo != "WR100001" || res.RefundId == "" || res.Amount.Refund != 300 || res.Amount.Total != 1000 {
			t.Fatalf("refund notify: %+v", res)
		}
		if (res.RefundStatus == "SUCCESS") != (res.SuccessTime != "") {
			t.Fatalf("success_time %q with status %s", res.SuccessTime, res.RefundStatus)
		}
		got[res.OutRefundNo] = event + " " + res.RefundStatus
	}
	want := map[string]string{"WR-ABNORMAL": "REFUND.ABNORMAL ABNORMAL", "WR-CLOSED": "REFUND.CLOSED CLOSED", "WR-SUCCESS": "REFUND.SUCCESS SUCCESS"}
	for no, w := range want {
		if got[no] != w {
			t.Errorf("%s: notify %q, want %q", no, got[no], w)
		}
	}
	if tr := s.trade(t, "WR100001"); tr.Refunds[3].Notify != nil {
		t.Fatalf("a refund without notify_url armed a notify: %+v", tr.Refunds[3].Notify)
	}
	for no, status := range map[string]string{"WR-ABNORMAL": "ABNORMAL", "WR-CLOSED": "CLOSED", "WR-SUCCESS": "SUCCESS"} {
		if q, err := c.V3RefundQuery(context.Background(), no, nil); err != nil || q.Response.Status != status {
			t.Fatalf("query %s: %+v %v, want %s", no, q, err, status)
		}
	}
	// A CLOSED refund gave the money back to the merchant: 300+300+100 committed, 300 more fits.
	if r, _ := wxRefundTo(c, "WR100001", "WR-AGAIN", 300, 1000, ""); r.Code != wechat.Success {
		t.Fatalf("refund after a CLOSED one: %+v", r)
	}
	if r, _ := wxRefundTo(c, "WR100001", "WR-OVER", 1, 1000, ""); r.Code != http.StatusBadRequest {
		t.Fatalf("over-refund: %+v", r)
	}
}

func TestWechatRefundRefusalsAndProcessing(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	rc := newReceiver(t, wechatOK)
	paidWechatTrade(t, s, c, "WR200001", 500)
	s.faults(t, map[string]any{"refundNotEnough": 1, "refundFrequencyLimited": 1, "refundProcessingMs": 3000, "dropNotifies": 1})

	if r, err := wxRefundTo(c, "WR200001", "WR2-1", 500, 500, rc.srv.URL); err != nil || r.Code != http.StatusTooManyRequests || r.ErrResponse.Code != "FREQUENCY_LIMITED" {
		t.Fatalf("frequency limited: %+v %v", r, err)
	}
	if r, err := wxRefundTo(c, "WR200001", "WR2-1", 500, 500, rc.srv.URL); err != nil || r.Code != http.StatusForbidden || r.ErrResponse.Code != "NOT_ENOUGH" {
		t.Fatalf("balance not enough: %+v %v", r, err)
	}
	r, err := wxRefundTo(c, "WR200001", "WR2-1", 500, 500, rc.srv.URL)
	if err != nil || r.Code != wechat.Success || r.Response.Status != "PROCESSING" {
		t.Fatalf("refund with the same out_refund_no: %+v %v", r, err)
	}
	if q, _ := c.V3RefundQuery(context.Background(), "WR2-1", nil); q.Response.Status != "PROCESSING" {
		t.Fatalf("right after the refund: %s", q.Response.Status)
	}
	testkit.Eventually(t, waitLong, func() bool {
		q, err := c.V3RefundQuery(context.Background(), "WR2-1", nil)
		return err == nil && q.Response.Status == "SUCCESS" && q.Response.SuccessTime != ""
	}, "refund never went through")
	if tr := s.trade(t, "WR200001"); tr.Refunds[0].Notify == nil || !tr.Refunds[0].Notify.Dropped || rc.count() != 0 {
		t.Fatalf("dropNotifies must drop the refund notify: %+v, %d arrived", tr.Refunds[0].Notify, rc.count())
	}
	if q := wxQuery(t, c, "WR200001"); q.Response.TradeState != "REFUND" {
		t.Fatalf("trade_state after the refund: %s", q.Response.TradeState)
	}
	var f emulator.Faults
	if s.do(t, http.MethodGet, "/sandbox/faults", nil, &f); f != (emulator.Faults{RefundProcessingMs: 3000}) {
		t.Fatalf("faults left: %+v", f)
	}
}
