package emulator_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/alipay"
	wechat "github.com/go-pay/gopay/wechat/v3"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

// closeCode closes an Alipay trade and returns "10000" or the business error's code and sub_code.
func closeCode(t *testing.T, c *alipay.Client, outTradeNo string) string {
	t.Helper()
	_, err := c.TradeClose(context.Background(), gopay.BodyMap{"out_trade_no": outTradeNo})
	if err == nil {
		return "10000"
	}
	return bizCode(t, err)
}

// By default a close before the scan answers TRADE_NOT_EXIST and closes nothing, like the real
// gateway in the disputed case: the buyer can still pay until time_expire.
func TestAlipayCloseBeforeScanLeavesTheQRPayable(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	rc := newReceiver(t, alipayOK)
	ctx := context.Background()

	// Closed before the scan, paid afterwards: the money moves and the notify goes out.
	qr := precreate(t, c, "A5001", "2.50", rc.srv.URL+"/notify/alipay")
	if got := closeCode(t, c, "A5001"); got != "40004 ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("close before scan = %s, want TRADE_NOT_EXIST", got)
	}
	if tr := s.trade(t, "A5001"); tr.State != emulator.StateNotPaid {
		t.Fatalf("trade after the close is %s, want %s", tr.State, emulator.StateNotPaid)
	}
	if _, err := alipayQuery(c, "A5001"); bizCode(t, err) != "40004 ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("query after the close: %v", err)
	}
	if code := s.pay(t, qr); code != http.StatusOK {
		t.Fatalf("pay after the close = %d, want 200", code)
	}
	testkit.Eventually(t, waitLong, func() bool { return rc.count() >= 1 }, "no notify for the late payment")
	nbm, err := alipay.ParseNotifyToBodyMap(rc.request(0))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := alipay.VerifySign(pemBody(s.creds.Alipay.AlipayPublicKey), nbm); !ok || err != nil {
		t.Fatalf("notify signature: %v", err)
	}
	if nbm.GetString("out_trade_no") != "A5001" || nbm.GetString("trade_status") != "TRADE_SUCCESS" || nbm.GetString("total_amount") != "2.50" {
		t.Fatalf("notify of the late payment: %v", nbm)
	}
	if q, err := alipayQuery(c, "A5001"); err != nil || q.Response.TradeStatus != "TRADE_SUCCESS" {
		t.Fatalf("query after the late payment: %+v %v", q, err)
	}

	// A paid trade is not closable: TRADE_STATUS_ERROR, out_trade_no echoed in the error object.
	rsp, err := c.TradeClose(ctx, gopay.BodyMap{"out_trade_no": "A5001"})
	if got := bizCode(t, err); got != "40004 ACQ.TRADE_STATUS_ERROR" {
		t.Fatalf("close after the late payment = %s", got)
	}
	if rsp == nil || rsp.Response.OutTradeNo != "A5001" {
		t.Fatalf("close error object does not echo out_trade_no: %+v", rsp)
	}

	// Scanned after a close that did nothing: now the trade exists and a close is real, and
	// closing it again is refused like any close of a trade not waiting for payment.
	qr = precreate(t, c, "A5002", "1.00", rc.srv.URL+"/notify/alipay")
	if got := closeCode(t, c, "A5002"); got != "40004 ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("close before scan = %s", got)
	}
	scan(t, qr)
	if q, err := alipayQuery(c, "A5002"); err != nil || q.Response.TradeStatus != "WAIT_BUYER_PAY" {
		t.Fatalf("query after scan: %+v %v", q, err)
	}
	if got := closeCode(t, c, "A5002"); got != "10000" {
		t.Fatalf("close after scan = %s, want success", got)
	}
	if q, err := alipayQuery(c, "A5002"); err != nil || q.Response.TradeStatus != "TRADE_CLOSED" {
		t.Fatalf("query after the real close: %+v %v", q, err)
	}
	if got := closeCode(t, c, "A5002"); got != "40004 ACQ.TRADE_STATUS_ERROR" {
		t.Fatalf("second close = %s, want TRADE_STATUS_ERROR", got)
	}
	if code := s.pay(t, qr); code != http.StatusConflict {
		t.Fatalf("pay after the real close = %d, want 409", code)
	}
	// Precreate sends no TRADE_CLOSED notify.
	if tr := s.trade(t, "A5002"); tr.Closing != nil {
		t.Fatalf("a precreate close armed a notify: %+v", tr.Closing)
	}

	// Payable only until time_expire.
	expire := time.Now().Add(2 * time.Second).In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
	pre, err := c.TradePrecreate(ctx, gopay.BodyMap{"out_trade_no": "A5003", "total_amount": "1.00", "subject": "x", "time_expire": expire})
	if err != nil {
		t.Fatal(err)
	}
	if got := closeCode(t, c, "A5003"); got != "40004 ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("close before scan = %s", got)
	}
	testkit.Eventually(t, waitLong, func() bool { return s.trade(t, "A5003").State == emulator.StateClosed }, "the kept QR never expired")
	if tr := s.trade(t, "A5003"); tr.CloseNote != "expired" {
		t.Fatalf("kept QR closed by %q, want expired", tr.CloseNote)
	}
	if code := s.pay(t, pre.Response.QrCode); code != http.StatusConflict {
		t.Fatalf("pay after expiry = %d, want 409", code)
	}
}

// WAP pay is the Alipay product that sends TRADE_CLOSED: when the merchant closes a trade the
// buyer logged in to, and when such a trade expires.
func TestAlipayWapCloseAndExpirySendTradeClosed(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	rc := newReceiver(t, alipayOK)
	cst := time.FixedZone("CST", 8*3600)

	open := func(no string, expire time.Time) {
		t.Helper()
		payURL := s.pageURL(t, c, true, gopay.BodyMap{"out_trade_no": no, "total_amount": "3.00", "subject": "Go course",
			"notify_url": rc.srv.URL + "/notify/alipay", "time_expire": expire.In(cst).Format("2006-01-02 15:04:05")})
		s.cashierLogin(t, payURL)
	}
	open("W7001", time.Now().Add(25*time.Minute))
	if got := closeCode(t, c, "W7001"); got != "10000" {
		t.Fatalf("close after login = %s", got)
	}
	open("W7002", time.Now().Add(3*time.Second)) // time_expire has whole seconds: 2 s to log in
	testkit.Eventually(t, waitLong, func() bool { return rc.count() >= 2 }, "want two TRADE_CLOSED notifies, got %d", rc.count())
	seen := map[string]bool{}
	for i := range rc.count() {
		bm, err := alipay.ParseNotifyToBodyMap(rc.request(i))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := alipay.VerifySign(pemBody(s.creds.Alipay.AlipayPublicKey), bm); !ok {
			t.Fatalf("close notify signature: %v", err)
		}
		if bm.GetString("trade_status") != "TRADE_CLOSED" || bm.GetString("gmt_close") == "" || bm.GetString("gmt_payment") != "" ||
			bm.GetString("refund_fee") != "" {
			t.Fatalf("close notify: %v", bm)
		}
		seen[bm.GetString("out_trade_no")] = true
	}
	if !seen["W7001"] || !seen["W7002"] {
		t.Fatalf("TRADE_CLOSED notifies for %v, want W7001 (closed) and W7002 (expired)", seen)
	}
}

func TestWechatCloseAnswers(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	ctx := context.Background()
	if cl, err := c.V3TransactionCloseOrder(ctx, "NOSUCHTRADE"); err != nil || cl.Code != http.StatusNotFound || cl.ErrResponse.Code != "ORDER_NOT_EXIST" {
		t.Fatalf("close of an unknown trade: %+v %v", cl, err)
	}
	rsp, err := native(c, w.AppID, "W800001", 100, "http://127.0.0.1:1/n", time.Now().Add(2*time.Second))
	if err != nil || rsp.Code != wechat.Success {
		t.Fatalf("prepay: %+v %v", rsp, err)
	}
	testkit.Eventually(t, waitLong, func() bool { return wxQuery(t, c, "W800001").Response.TradeState == "CLOSED" }, "never expired")
	if cl, err := c.V3TransactionCloseOrder(ctx, "W800001"); err != nil || cl.Code != http.StatusBadRequest || cl.ErrResponse.Code != "ORDER_CLOSED" {
		t.Fatalf("close of an expired trade: %+v %v, want 400 ORDER_CLOSED", cl, err)
	}
}

// pageURL asks gopay for a page (or WAP) pay URL and points it at the sandbox.
func (s *sandbox) pageURL(t *testing.T, c *alipay.Client, wap bool, bm gopay.BodyMap) string {
	t.Helper()
	pay := c.TradePagePay
	if wap {
		pay = c.TradeWapPay
	}
	raw, err := pay(context.Background(), bm)
	if err != nil {
		t.Fatal(err)
	}
	return s.onSandbox(t, raw)
}

// cashierLogin opens a page/WAP payUrl in the "browser" and logs in; it returns the cashier's path.
func (s *sandbox) cashierLogin(t *testing.T, payURL string) string {
	t.Helper()
	resp, err := http.Get(payURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cashier: HTTP %d", resp.StatusCode)
	}
	u, _ := url.Parse(payURL)
	var biz struct {
		OutTradeNo string `json:"out_trade_no"`
	}
	_ = jsonUnmarshal(u.Query().Get("biz_content"), &biz)
	cashier := "/cashier/alipay/" + s.trade(t, biz.OutTradeNo).Token
	resp, err = noRedirect.Post(s.srv.URL+cashier+"/login", "application/x-www-form-urlencoded", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: HTTP %d", resp.StatusCode)
	}
	return cashier
}
