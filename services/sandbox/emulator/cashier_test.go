package emulator_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/alipay"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAlipayPagePayCashierAndSignedReturn(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	rc := newReceiver(t, alipayOK)
	payURL := s.pageURL(t, c, false, gopay.BodyMap{"out_trade_no": "P1001", "total_amount": "60.01", "subject": "Go course",
		"timeout_express": "25m", "notify_url": rc.srv.URL + "/notify/alipay", "return_url": "https://shop.example/paid"})

	// Before the buyer even opens the page, and after, until the login: no trade at the gateway.
	if _, err := alipayQuery(c, "P1001"); bizCode(t, err) != "40004 ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("query before the cashier opened: %v", err)
	}
	code, page := get(t, payURL)
	if code != http.StatusOK || !strings.Contains(page, `id="pay"`) || !strings.Contains(page, "60.01") {
		t.Fatalf("cashier page: HTTP %d\n%s", code, page)
	}
	if _, err := alipayQuery(c, "P1001"); bizCode(t, err) != "40004 ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("query before the login: %v", err)
	}
	if got := closeCode(t, c, "P1001"); got != "40004 ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("close before the login = %s", got)
	}

	// A payUrl changed after signing is refused.
	tampered := strings.Replace(payURL, url.QueryEscape(`"total_amount":"60.01"`), url.QueryEscape(`"total_amount":"0.01"`), 1)
	if tampered == payURL {
		t.Fatal("test did not tamper with the URL")
	}
	if code, page := get(t, tampered); code != http.StatusBadRequest || !strings.Contains(page, "isv.invalid-signature") {
		t.Fatalf("tampered payUrl: HTTP %d\n%s", code, page)
	}

	cashier := s.cashierLogin(t, payURL)
	if q, err := alipayQuery(c, "P1001"); err != nil || q.Response.TradeStatus != "WAIT_BUYER_PAY" {
		t.Fatalf("query after the login: %+v %v", q, err)
	}
	resp, err := noRedirect.Post(s.srv.URL+cashier+"/pay", "application/x-www-form-urlencoded", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || back.Host != "shop.example" || back.Path != "/paid" {
		t.Fatalf("after paying: HTTP %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	bm, err := alipay.ParseNotifyByURLValues(back.Query())
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"method": "alipay.trade.page.pay.return", "out_trade_no": "P1001", "total_amount": "60.01",
		"app_id": s.creds.Alipay.AppID, "trade_status": "", "charset": "utf-8", "version": "1.0", "sign_type": "RSA2"} {
		if got := bm.GetString(k); got != want {
			t.Errorf("return %s = %q, want %q", k, got, want)
		}
	}
	if bm.GetString("trade_no") == "" || bm.GetString("seller_id") == "" || bm.GetString("timestamp") == "" {
		t.Fatalf("return parameters: %v", bm)
	}
	if ok, err := alipay.VerifySign(pemBody(s.creds.Alipay.AlipayPublicKey), bm); !ok { // removes sign and sign_type
		t.Fatalf("return parameters do not verify: %v", err)
	}
	testkit.Eventually(t, waitLong, func() bool { return rc.count() >= 1 }, "no notify for the page payment")
	if q, err := alipayQuery(c, "P1001"); err != nil || q.Response.TradeStatus != "TRADE_SUCCESS" {
		t.Fatalf("query after paying: %+v %v", q, err)
	}
	if code, page := get(t, payURL); code != http.StatusBadRequest || !strings.Contains(page, "ACQ.TRADE_HAS_SUCCESS") {
		t.Fatalf("payUrl opened again after paying: HTTP %d\n%s", code, page)
	}
}

func TestAlipayWapPayWithoutABrowser(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	payURL := s.pageURL(t, c, true, gopay.BodyMap{"out_trade_no": "P2001", "total_amount": "8.00", "subject": "Go course",
		"notify_url": "http://127.0.0.1:1/n", "return_url": "https://shop.example/back?from=alipay", "quit_url": "https://shop.example/"})
	var paid struct {
		emulator.Trade
		ReturnURL string `json:"returnUrl"`
	}
	if code := s.do(t, http.MethodPost, "/sandbox/pay", map[string]string{"payUrl": payURL}, &paid); code != http.StatusOK {
		t.Fatalf("pay by payUrl: HTTP %d", code)
	}
	back, _ := url.Parse(paid.ReturnURL)
	if paid.Product != emulator.ProductWap || back.Query().Get("method") != "alipay.trade.wap.pay.return" || back.Query().Get("from") != "alipay" {
		t.Fatalf("paid WAP trade %+v, return %q", paid.Trade, paid.ReturnURL)
	}
	if q, err := alipayQuery(c, "P2001"); err != nil || q.Response.TradeStatus != "TRADE_SUCCESS" {
		t.Fatalf("query: %+v %v", q, err)
	}
	if code := s.do(t, http.MethodPost, "/sandbox/pay", map[string]string{"payUrl": payURL}, nil); code != http.StatusBadRequest {
		t.Fatalf("paying the payUrl again: HTTP %d, want 400 (trade already paid)", code)
	}
	bad := s.pageURL(t, c, true, gopay.BodyMap{"out_trade_no": "P2001", "total_amount": "9.00", "subject": "Go course"})
	if code := s.do(t, http.MethodPost, "/sandbox/pay", map[string]string{"payUrl": bad}, nil); code != http.StatusBadRequest {
		t.Fatalf("another amount for a paid out_trade_no: HTTP %d", code)
	}
}

// The cashier keeps the trade's deadline: a page trade expires at its time_expire.
func TestAlipayPagePayExpires(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	expire := time.Now().Add(time.Minute).In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
	payURL := s.pageURL(t, c, false, gopay.BodyMap{"out_trade_no": "P3001", "total_amount": "1.00", "subject": "x", "time_expire": expire})
	s.cashierLogin(t, payURL)
	emulator.Advance(s.emu, 2*time.Minute)
	if code := s.do(t, http.MethodPost, "/sandbox/pay", map[string]string{"payUrl": payURL}, nil); code != http.StatusBadRequest {
		t.Fatalf("pay after expiry: HTTP %d, want 400 (ACQ.TRADE_HAS_CLOSE)", code)
	}
	if tr := s.trade(t, "P3001"); tr.State != emulator.StateClosed || tr.Closing != nil {
		t.Fatalf("expired page trade: %s, close notify %+v (page pay sends none)", tr.State, tr.Closing)
	}
	if _, err := c.TradeQuery(context.Background(), gopay.BodyMap{"out_trade_no": "P3001"}); err != nil {
		t.Fatalf("query of the expired page trade the buyer logged in to: %v", err)
	}
}
