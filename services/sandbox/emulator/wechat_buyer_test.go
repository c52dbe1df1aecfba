package emulator_test

import (
	"context"
	"crypto/rsa"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-pay/gopay"
	wechat "github.com/go-pay/gopay/wechat/v3"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

func wxOrder(outTradeNo string, total int, notifyURL string) gopay.BodyMap {
	bm := gopay.BodyMap{}
	bm.Set("description", "Go course").Set("out_trade_no", outTradeNo).Set("notify_url", notifyURL).
		Set("time_expire", time.Now().Add(25*time.Minute).Format(time.RFC3339)).
		SetBodyMap("amount", func(b gopay.BodyMap) { b.Set("total", total).Set("currency", "CNY") })
	return bm
}

// decryptedPayNotify verifies the i-th notify of rc with the WeChat Pay public key and decrypts it.
func (s *sandbox) decryptedPayNotify(t *testing.T, rc *receiver, i int) *wechat.V3DecryptPayResult {
	t.Helper()
	req, err := wechat.V3ParseNotify(rc.request(i))
	if err != nil {
		t.Fatal(err)
	}
	if err := req.VerifySignByPK(parsePub(t, s.creds.Wechat.WechatPayPublicKey).(*rsa.PublicKey)); err != nil {
		t.Fatalf("notify signature: %v", err)
	}
	res, err := req.DecryptPayCipherText(s.creds.Wechat.APIv3Key)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestWechatJSAPIChecksPaySignThenPays(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	rc := newReceiver(t, wechatOK)
	ctx := context.Background()

	bm := wxOrder("J100001", 990, rc.srv.URL+"/notify/wechat").Set("appid", w.AppID)
	if rsp, err := c.V3TransactionJsapi(ctx, bm); err != nil || rsp.Code != http.StatusBadRequest || rsp.ErrResponse.Code != "PARAM_ERROR" {
		t.Fatalf("JSAPI without payer.openid: %+v %v", rsp, err)
	}
	bm.SetBodyMap("payer", func(b gopay.BodyMap) { b.Set("openid", "oBuyerJSAPI") })
	rsp, err := c.V3TransactionJsapi(ctx, bm)
	if err != nil || rsp.Code != wechat.Success || !strings.HasPrefix(rsp.Response.PrepayId, "wx") {
		t.Fatalf("JSAPI prepay: %+v %v", rsp, err)
	}
	prepayID := rsp.Response.PrepayId
	if again, err := c.V3TransactionJsapi(ctx, bm); err != nil || again.Code != wechat.Success || again.Response.PrepayId == prepayID {
		t.Fatalf("the same order again must give a fresh prepay_id: %+v %v", again, err)
	}

	payWith := func(p *wechat.JSAPIPayParams) (int, map[string]string) {
		var out map[string]string
		code := s.do(t, http.MethodPost, "/sandbox/pay", map[string]string{"prepayId": prepayID, "appId": p.AppId,
			"timeStamp": p.TimeStamp, "nonceStr": p.NonceStr, "package": p.Package, "signType": p.SignType, "paySign": p.PaySign}, &out)
		return code, out
	}
	otherKey, _ := otherKeyPair(t)
	forger, err := wechat.NewClientV3(w.MchID, w.MerchantSerialNo, w.APIv3Key, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := forger.PaySignOfJSAPI(w.AppID, prepayID)
	if code, out := payWith(forged); code != http.StatusBadRequest || !strings.Contains(out["error"], "paySign") {
		t.Fatalf("paySign by another key: HTTP %d %v", code, out)
	}
	good, err := c.PaySignOfJSAPI(w.AppID, prepayID)
	if err != nil {
		t.Fatal(err)
	}
	tampered := *good
	tampered.NonceStr = strings.ToUpper(good.NonceStr) + "x"
	if code, _ := payWith(&tampered); code != http.StatusBadRequest {
		t.Fatalf("params changed after signing: HTTP %d", code)
	}
	if q := wxQuery(t, c, "J100001"); q.Response.TradeState != "NOTPAY" {
		t.Fatalf("refused pays changed the trade: %s", q.Response.TradeState)
	}
	if code, out := payWith(good); code != http.StatusOK {
		t.Fatalf("pay with a good paySign: HTTP %d %v", code, out)
	}
	testkit.Eventually(t, waitLong, func() bool { return rc.count() >= 1 }, "no JSAPI notify")
	res := s.decryptedPayNotify(t, rc, 0)
	if res.TradeType != "JSAPI" || res.Payer.Openid != "oBuyerJSAPI" || res.Amount.Total != 990 {
		t.Fatalf("JSAPI notify: %+v", res)
	}
	if q := wxQuery(t, c, "J100001"); q.Response.TradeType != "JSAPI" || q.Response.TradeState != "SUCCESS" {
		t.Fatalf("query: %+v", q.Response)
	}
	if code, _ := payWith(good); code != http.StatusConflict {
		t.Fatalf("second pay: HTTP %d, want 409", code)
	}
}

func TestWechatH5CashierRedirectsAfterPaying(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	rc := newReceiver(t, wechatOK)
	ctx := context.Background()

	bm := wxOrder("H100001", 500, rc.srv.URL+"/notify/wechat").Set("appid", w.AppID)
	if rsp, err := c.V3TransactionH5(ctx, bm); err != nil || rsp.Code != http.StatusBadRequest {
		t.Fatalf("H5 without scene_info: %+v %v", rsp, err)
	}
	bm.SetBodyMap("scene_info", func(b gopay.BodyMap) {
		b.Set("payer_client_ip", "203.0.113.7").SetBodyMap("h5_info", func(h gopay.BodyMap) { h.Set("type", "Wap") })
	})
	rsp, err := c.V3TransactionH5(ctx, bm)
	if err != nil || rsp.Code != wechat.Success || rsp.Response.H5Url == "" {
		t.Fatalf("H5 prepay: %+v %v", rsp, err)
	}
	h5 := rsp.Response.H5Url + "&redirect_url=" + url.QueryEscape("https://shop.example/h5/result?order=1")
	code, page := get(t, h5)
	if code != http.StatusOK || !strings.Contains(page, `id="pay"`) {
		t.Fatalf("H5 cashier: HTTP %d\n%s", code, page)
	}
	prepayID, _ := url.Parse(h5)
	resp, err := noRedirect.PostForm(s.srv.URL+"/h5/pay", url.Values{"prepay_id": {prepayID.Query().Get("prepay_id")},
		"redirect_url": {"https://shop.example/h5/result?order=1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://shop.example/h5/result?order=1" {
		t.Fatalf("after paying: HTTP %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	testkit.Eventually(t, waitLong, func() bool { return rc.count() >= 1 }, "no H5 notify")
	if res := s.decryptedPayNotify(t, rc, 0); res.TradeType != "MWEB" || res.OutTradeNo != "H100001" {
		t.Fatalf("H5 notify: %+v", res)
	}

	// Without a browser, and the h5_url's 5 minutes.
	bm2 := wxOrder("H100002", 200, rc.srv.URL+"/notify/wechat").Set("appid", w.AppID)
	bm2.Set("scene_info", bm["scene_info"])
	rsp2, err := c.V3TransactionH5(ctx, bm2)
	if err != nil || rsp2.Code != wechat.Success {
		t.Fatalf("H5 prepay: %+v %v", rsp2, err)
	}
	emulator.Advance(s.emu, 6*time.Minute)
	if code, _ := get(t, rsp2.Response.H5Url); code != http.StatusBadRequest {
		t.Fatalf("h5_url after 6 minutes: HTTP %d, want 400", code)
	}
	if code := s.do(t, http.MethodPost, "/sandbox/pay", map[string]string{"payUrl": rsp2.Response.H5Url}, nil); code != http.StatusBadRequest {
		t.Fatalf("pay of an expired h5_url: HTTP %d", code)
	}
	emulator.Advance(s.emu, -6*time.Minute) // WeChat refuses requests signed 5+ minutes off its clock
	rsp3, err := c.V3TransactionH5(ctx, bm2)
	if err != nil || rsp3.Code != wechat.Success || rsp3.Response.H5Url == rsp2.Response.H5Url {
		t.Fatalf("the same order again must give a fresh h5_url: %+v %v", rsp3, err)
	}
	if code := s.do(t, http.MethodPost, "/sandbox/pay", map[string]string{"payUrl": rsp3.Response.H5Url}, nil); code != http.StatusOK {
		t.Fatalf("pay of the fresh h5_url: HTTP %d", code)
	}
	if q := wxQuery(t, c, "H100002"); q.Response.TradeState != "SUCCESS" || q.Response.TradeType != "MWEB" {
		t.Fatalf("query: %+v", q.Response)
	}
}
