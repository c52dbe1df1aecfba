package emulator_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/go-pay/gopay"
	wechat "github.com/go-pay/gopay/wechat/v3"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

type consoleRefunded struct {
	Provider   string          `json:"provider"`
	OutTradeNo string          `json:"outTradeNo"`
	Refund     emulator.Refund `json:"refund"`
}

// A console refund is a refund like any other for queries; Alipay notifies the trade's
// notify_url, WeChat (no per-request notify_url) notifies nobody.
func TestConsoleRefund(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	wx := s.wechatClient(t, s.creds.Wechat.MerchantPrivateKey, s.creds.Wechat.WechatPayPublicKey)
	rc := newReceiver(t, alipayOK)
	paidAlipayTrade(t, s, c, "CR1001", "10.00", rc.srv.URL)
	paidWechatTrade(t, s, wx, "CR100002", 1000)
	testkit.Eventually(t, waitLong, func() bool { return rc.count() == 1 }, "payment notify")

	var out consoleRefunded
	if code := s.do(t, http.MethodPost, "/sandbox/console/refund", map[string]any{"outTradeNo": "CR1001", "amountFen": 250}, &out); code != http.StatusOK {
		t.Fatalf("console refund: HTTP %d", code)
	}
	if !out.Refund.Console || out.Refund.OutRefundNo == "" || out.Provider != emulator.ProviderAlipay {
		t.Fatalf("console refund answer: %+v", out)
	}
	q, err := c.TradeFastPayRefundQuery(context.Background(), gopay.BodyMap{"out_trade_no": "CR1001", "out_request_no": out.Refund.OutRefundNo})
	if err != nil || q.Response.RefundStatus != "REFUND_SUCCESS" || q.Response.RefundAmount != "2.50" {
		t.Fatalf("refund query of the console refund: %+v %v", q, err)
	}
	testkit.Eventually(t, waitLong, func() bool { return rc.count() == 2 }, "no notify for the console refund")
	if n := s.alipayNotifies(t, rc)[1]; n.GetString("refund_fee") != "2.50" || n.GetString("out_biz_no") != out.Refund.OutRefundNo {
		t.Fatalf("console refund notify: %v", n)
	}
	if code := s.do(t, http.MethodPost, "/sandbox/console/refund", map[string]any{"outTradeNo": "CR1001", "amountFen": 751}, nil); code != http.StatusConflict {
		t.Fatalf("console over-refund: HTTP %d, want 409", code)
	}

	out = consoleRefunded{}
	if code := s.do(t, http.MethodPost, "/sandbox/console/refund", map[string]any{"outTradeNo": "CR100002", "amountFen": 1000, "outRefundNo": "CONSOLE-WX-1"}, &out); code != http.StatusOK {
		t.Fatalf("wechat console refund: HTTP %d", code)
	}
	if out.Refund.Notify != nil {
		t.Fatalf("a WeChat console refund armed a notify: %+v", out.Refund.Notify)
	}
	testkit.Eventually(t, waitLong, func() bool {
		r, err := wx.V3RefundQuery(context.Background(), "CONSOLE-WX-1", nil)
		return err == nil && r.Code == wechat.Success && r.Response.Status == "SUCCESS"
	}, "console refund never reads SUCCESS")
	for _, bad := range []map[string]any{{"outTradeNo": "NOPE", "amountFen": 1}, {"outTradeNo": "CR1001"}, {"outTradeNo": "CR1001", "amountFen": 1, "provider": "paypal"}} {
		if code := s.do(t, http.MethodPost, "/sandbox/console/refund", bad, nil); code != http.StatusNotFound && code != http.StatusBadRequest {
			t.Fatalf("console refund %v: HTTP %d", bad, code)
		}
	}
}

// Another system's trade on the same merchant account: paid, queryable, notifies nobody.
func TestConsoleTrade(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	wx := s.wechatClient(t, s.creds.Wechat.MerchantPrivateKey, s.creds.Wechat.WechatPayPublicKey)
	var ali, wct emulator.Trade
	if code := s.do(t, http.MethodPost, "/sandbox/console/trade", map[string]any{"provider": "alipay", "amountFen": 4200}, &ali); code != http.StatusOK {
		t.Fatalf("console trade: HTTP %d", code)
	}
	if code := s.do(t, http.MethodPost, "/sandbox/console/trade", map[string]any{"provider": "wechat", "amountFen": 300, "outTradeNo": "OTHER0001"}, &wct); code != http.StatusOK {
		t.Fatalf("console trade: HTTP %d", code)
	}
	if q, err := alipayQuery(c, ali.OutTradeNo); err != nil || q.Response.TradeStatus != "TRADE_SUCCESS" || q.Response.TotalAmount != "42.00" {
		t.Fatalf("query of another system's trade: %+v %v", q, err)
	}
	if q := wxQuery(t, wx, "OTHER0001"); q.Response.TradeState != "SUCCESS" || q.Response.Amount.Total != 300 {
		t.Fatalf("query of another system's trade: %+v", q.Response)
	}
	if !wct.Console || wct.Notify.Attempts != 0 || !wct.Notify.GaveUp {
		t.Fatalf("console trade must notify nobody: %+v", wct)
	}
	if code := s.do(t, http.MethodPost, "/sandbox/console/trade", map[string]any{"provider": "wechat", "amountFen": 1, "outTradeNo": "OTHER0001"}, nil); code != http.StatusConflict {
		t.Fatalf("console trade with a used out_trade_no: HTTP %d", code)
	}
}
