package emulator_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/go-pay/gopay"
	wechat "github.com/go-pay/gopay/wechat/v3"
	"github.com/paysuite/paysuite/pkg/testkit"
)

func native(c *wechat.ClientV3, appID, outTradeNo string, total int, notifyURL string, expire time.Time) (*wechat.NativeRsp, error) {
	bm := gopay.BodyMap{}
	bm.Set("appid", appID).Set("description", "Go course").Set("out_trade_no", outTradeNo).
		Set("time_expire", expire.Format(time.RFC3339)).Set("notify_url", notifyURL).
		SetBodyMap("amount", func(b gopay.BodyMap) { b.Set("total", total).Set("currency", "CNY") })
	return c.V3TransactionNative(context.Background(), bm)
}

func mustNative(t *testing.T, s *sandbox, c *wechat.ClientV3, outTradeNo string, total int, notifyURL string) string {
	t.Helper()
	rsp, err := native(c, s.creds.Wechat.AppID, outTradeNo, total, notifyURL, time.Now().Add(25*time.Minute))
	if err != nil || rsp.Code != wechat.Success || rsp.Response.CodeUrl == "" {
		t.Fatalf("native prepay: %+v %v", rsp, err)
	}
	return rsp.Response.CodeUrl
}

func wxQuery(t *testing.T, c *wechat.ClientV3, outTradeNo string) *wechat.QueryOrderRsp {
	t.Helper()
	rsp, err := c.V3TransactionQueryOrder(context.Background(), wechat.OutTradeNo, outTradeNo)
	if err != nil {
		t.Fatalf("query %s: %v", outTradeNo, err)
	}
	return rsp
}

func wxRefund(c *wechat.ClientV3, outTradeNo, outRefundNo string, refund, total int) (*wechat.RefundRsp, error) {
	bm := gopay.BodyMap{}
	bm.Set("out_trade_no", outTradeNo).Set("out_refund_no", outRefundNo).
		SetBodyMap("amount", func(b gopay.BodyMap) { b.Set("refund", refund).Set("total", total).Set("currency", "CNY") })
	return c.V3Refund(context.Background(), bm)
}

func parsePub(t *testing.T, p string) any {
	t.Helper()
	b, _ := pem.Decode([]byte(p))
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestWechatNativePayNotifyQueryRefundClose(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	rc := newReceiver(t, wechatOK)

	codeURL := mustNative(t, s, c, "W100001", 1000, rc.srv.URL+"/notify/wechat")
	if again := mustNative(t, s, c, "W100001", 1000, rc.srv.URL+"/notify/wechat"); again != codeURL {
		t.Fatalf("repeated prepay gave another code_url")
	}
	if rsp, _ := native(c, w.AppID, "W100001", 999, rc.srv.URL+"/notify/wechat", time.Now().Add(time.Hour)); rsp.Code != http.StatusForbidden || rsp.ErrResponse.Code != "OUT_TRADE_NO_USED" {
		t.Fatalf("same out_trade_no, other amount: %+v", rsp)
	}
	if rsp, _ := native(c, w.AppID, "W100002", 0, rc.srv.URL+"/n", time.Now().Add(time.Hour)); rsp.Code != http.StatusBadRequest || rsp.ErrResponse.Code != "PARAM_ERROR" {
		t.Fatalf("zero amount: %+v", rsp)
	}
	if rsp, _ := native(c, "wx0000000000000000", "W100003", 1, rc.srv.URL+"/n", time.Now().Add(time.Hour)); rsp.Code != http.StatusBadRequest || rsp.ErrResponse.Code != "APPID_MCHID_NOT_MATCH" {
		t.Fatalf("foreign appid: %+v", rsp)
	}
	if q := wxQuery(t, c, "W100001"); q.Code != wechat.Success || q.Response.TradeState != "NOTPAY" || q.Response.Amount.Total != 1000 {
		t.Fatalf("query before pay: %+v", q)
	}
	if q := wxQuery(t, c, "NOSUCHTRADE"); q.Code != http.StatusNotFound || q.ErrResponse.Code != "ORDER_NOT_EXIST" {
		t.Fatalf("query unknown: %+v", q)
	}

	if code := s.do(t, http.MethodPost, "/sandbox/pay", map[string]string{"qrCode": codeURL, "buyerId": "oBuyer42"}, nil); code != http.StatusOK {
		t.Fatalf("pay = %d", code)
	}
	testkit.Eventually(t, waitLong, func() bool { return rc.count() >= 1 }, "no wechat notify")
	req, err := wechat.V3ParseNotify(rc.request(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := req.VerifySignByPK(parsePub(t, w.WechatPayPublicKey).(*rsa.PublicKey)); err != nil {
		t.Fatalf("notify signature: %v", err)
	}
	if req.SignInfo.HeaderSerial != w.WechatPayPublicKeyID || req.EventType != "TRANSACTION.SUCCESS" {
		t.Fatalf("notify envelope: %+v %+v", req, req.SignInfo)
	}
	res, err := req.DecryptPayCipherText(w.APIv3Key)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	if res.Mchid != w.MchID || res.Appid != w.AppID || res.OutTradeNo != "W100001" || res.Amount.Total != 1000 ||
		res.TradeState != "SUCCESS" || res.Payer.Openid != "oBuyer42" || res.TransactionId == "" {
		t.Fatalf("decrypted notify: %+v", res)
	}
	_, otherPub := otherKeyPair(t)
	if err := req.VerifySignByPK(parsePub(t, otherPub).(*rsa.PublicKey)); err == nil {
		t.Fatal("notify verified with a foreign key")
	}

	q := wxQuery(t, c, "W100001")
	if q.Code != wechat.Success || q.Response.TradeState != "SUCCESS" || q.Response.TransactionId != res.TransactionId || q.Response.Amount.PayerTotal != 1000 {
		t.Fatalf("query after pay: %+v", q.Response)
	}
	if rsp, _ := native(c, w.AppID, "W100001", 1000, rc.srv.URL+"/notify/wechat", time.Now().Add(time.Hour)); rsp.Code != http.StatusBadRequest || rsp.ErrResponse.Code != "ORDERPAID" {
		t.Fatalf("prepay of a paid trade: %+v", rsp)
	}

	r1, err := wxRefund(c, "W100001", "WR1", 300, 1000)
	if err != nil || r1.Code != wechat.Success || r1.Response.Amount.Refund != 300 || r1.Response.RefundId == "" {
		t.Fatalf("refund: %+v %v", r1, err)
	}
	r1again, err := wxRefund(c, "W100001", "WR1", 300, 1000)
	if err != nil || r1again.Code != wechat.Success || r1again.Response.RefundId != r1.Response.RefundId {
		t.Fatalf("repeated refund must be the same refund: %+v %v", r1again, err)
	}
	if over, _ := wxRefund(c, "W100001", "WR2", 800, 1000); over.Code != http.StatusBadRequest || over.ErrResponse.Code != "INVALID_REQUEST" {
		t.Fatalf("over-refund: %+v", over)
	}
	testkit.Eventually(t, waitLong, func() bool {
		rq, err := c.V3RefundQuery(context.Background(), "WR1", nil)
		return err == nil && rq.Code == wechat.Success && rq.Response.Status == "SUCCESS"
	}, "refund never reached SUCCESS")
	if q := wxQuery(t, c, "W100001"); q.Response.TradeState != "REFUND" {
		t.Fatalf("refunded trade state = %s, want REFUND", q.Response.TradeState)
	}
	if cl, err := c.V3TransactionCloseOrder(context.Background(), "W100001"); err != nil || cl.Code != http.StatusBadRequest || cl.ErrResponse.Code != "ORDERPAID" {
		t.Fatalf("close of a paid trade: %+v %v", cl, err)
	}
}

func TestWechatCloseThenPayIsRefused(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	codeURL := mustNative(t, s, c, "W200001", 100, "http://127.0.0.1:1/notify")
	cl, err := c.V3TransactionCloseOrder(context.Background(), "W200001")
	if err != nil || cl.Code != wechat.Success {
		t.Fatalf("close (signed 204 must verify): %+v %v", cl, err)
	}
	if cl, err := c.V3TransactionCloseOrder(context.Background(), "W200001"); err != nil || cl.Code != http.StatusBadRequest || cl.ErrResponse.Code != "ORDER_CLOSED" {
		t.Fatalf("closing again: %+v %v, want 400 ORDER_CLOSED", cl, err)
	}
	if q := wxQuery(t, c, "W200001"); q.Response.TradeState != "CLOSED" {
		t.Fatalf("after close: %+v", q.Response)
	}
	if code := s.pay(t, codeURL); code != http.StatusConflict {
		t.Fatalf("pay after close = %d, want 409", code)
	}
	if code := s.pay(t, s.srv.URL+"/qr/doesnotexist"); code != http.StatusNotFound {
		t.Fatalf("pay of an unknown QR = %d, want 404", code)
	}
}

func TestWechatRefusesWrongKeys(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	otherPriv, otherPub := otherKeyPair(t)

	forger := s.wechatClient(t, otherPriv, w.WechatPayPublicKey)
	rsp, err := native(forger, w.AppID, "W300001", 100, "http://127.0.0.1:1/n", time.Now().Add(time.Hour))
	if err != nil || rsp.Code != http.StatusUnauthorized || rsp.ErrResponse.Code != "SIGN_ERROR" {
		t.Fatalf("forged request: %+v %v", rsp, err)
	}
	if q := wxQuery(t, forger, "W300001"); q.Code != http.StatusUnauthorized || q.ErrResponse.Code != "SIGN_ERROR" {
		t.Fatalf("forged query: %+v", q)
	}

	gullible := s.wechatClient(t, w.MerchantPrivateKey, otherPub)
	if _, err := native(gullible, w.AppID, "W300002", 100, "http://127.0.0.1:1/n", time.Now().Add(time.Hour)); err == nil {
		t.Fatal("client trusting another WeChat Pay key must reject the answer")
	}
}

func TestWechatExpiredTradeReadsClosedAndCannotBePaid(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	rsp, err := native(c, w.AppID, "W400001", 100, "http://127.0.0.1:1/n", time.Now().Add(2*time.Second))
	if err != nil || rsp.Code != wechat.Success {
		t.Fatalf("prepay: %+v %v", rsp, err)
	}
	testkit.Eventually(t, waitLong, func() bool { return wxQuery(t, c, "W400001").Response.TradeState == "CLOSED" },
		"expired trade never read CLOSED")
	if code := s.pay(t, rsp.Response.CodeUrl); code != http.StatusConflict {
		t.Fatalf("pay of an expired trade = %d, want 409", code)
	}
}
