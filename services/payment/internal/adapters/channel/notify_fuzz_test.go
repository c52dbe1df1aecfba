package channel

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pay/gopay"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/app"
)

// notifyForm reads exactly what gopay's ParseNotifyToBodyMap reads, on any request (the table
// in TestNotifyFormAndSignContentMatchGopay is this fuzz target's seed corpus, and more).
func FuzzNotifyFormMatchesGopay(f *testing.F) {
	f.Add("", "application/x-www-form-urlencoded", "b=2&a=1&sign=c2ln&sign_type=RSA2&notify_id=n1&subject=%E8%AF%BE+x%26y%3D")
	f.Add("", "application/x-www-form-urlencoded; charset=utf-8", "a=1&a=2&b=&c=3&empty&sign=x")
	f.Add("q=1&a=9", "application/x-www-form-urlencoded", "a=1&z=%3D%26")
	f.Add("only=query", "text/plain", "a=1")
	f.Add("", "application/x-www-form-urlencoded", "a=%zz")
	f.Add("", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n")
	f.Fuzz(func(t *testing.T, query, contentType, body string) {
		target := "/notify/alipay"
		if query != "" {
			if strings.ContainsAny(query, " #\r\n\t") {
				return // not a request line httptest accepts
			}
			target += "?" + query
		}
		r1, err := newRequestSafely(target, contentType, body)
		if err != nil {
			return
		}
		r2, _ := newRequestSafely(target, contentType, body)
		matchesGopay(t, r1, r2)
	})
}

// newRequestSafely is httptest.NewRequest, which panics on a target no request line could carry.
func newRequestSafely(target, contentType, body string) (r *http.Request, err error) {
	defer func() {
		if recover() != nil {
			r, err = nil, errors.New("not a valid request")
		}
	}()
	r = httptest.NewRequest("POST", target, strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	return r, nil
}

var (
	fuzzKeyOnce sync.Once
	fuzzKey     *rsa.PrivateKey
)

func fuzzKeys(t testing.TB) (*rsa.PrivateKey, string, string) {
	fuzzKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		fuzzKey = k
	})
	der, _ := x509.MarshalPKCS8PrivateKey(fuzzKey)
	pub, _ := x509.MarshalPKIXPublicKey(&fuzzKey.PublicKey)
	return fuzzKey, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

func rsaSign(t testing.TB, key *rsa.PrivateKey, content string) string {
	sum := sha256.Sum256([]byte(content))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

const fuzzAlipayAppID = "2021000000000001"

// A notify signed with Alipay's key is accepted exactly when it is for our app and names a trade
// and a notify id (and, for a refund, its out_biz_no; for a payment, a readable amount); any
// change after signing, a broken signature or another sign_type is refused.
func FuzzAlipayParseNotify(f *testing.F) {
	f.Add("TRADE_SUCCESS", "12.34", "PS1", "n1", fuzzAlipayAppID, "", "", uint8(0))
	f.Add("TRADE_SUCCESS", "12.34", "PS1", "n1", fuzzAlipayAppID, "", "", uint8(1))
	f.Add("TRADE_SUCCESS", "12.34", "PS1", "n1", fuzzAlipayAppID, "", "", uint8(2))
	f.Add("TRADE_SUCCESS", "12.34", "PS1", "n1", fuzzAlipayAppID, "", "", uint8(3))
	f.Add("TRADE_SUCCESS", "1.2.3", "PS1", "n1", fuzzAlipayAppID, "", "", uint8(0))
	f.Add("TRADE_SUCCESS", "-1", "PS1", "n1", fuzzAlipayAppID, "", "", uint8(0))
	f.Add("TRADE_CLOSED", "", "PS1", "n1", fuzzAlipayAppID, "", "", uint8(0))
	f.Add("TRADE_SUCCESS", "12.34", "PS1", "n1", fuzzAlipayAppID, "1.00", "RF1", uint8(0))
	f.Add("TRADE_SUCCESS", "12.34", "PS1", "n1", fuzzAlipayAppID, "1.00", "", uint8(0))
	f.Add("TRADE_SUCCESS", "12.34", "PS1", "n1", "2021999", "", "", uint8(0))
	f.Add("TRADE_SUCCESS", "12.34", "", "n1", fuzzAlipayAppID, "", "", uint8(0))
	key, priv, pub := fuzzKeys(f)
	a, err := NewAlipay(AlipayConfig{AppID: fuzzAlipayAppID, AppPrivateKey: priv, AlipayPublicKey: pub, BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status, total, outTradeNo, notifyID, appID, refundFee, outBizNo string, tamper uint8) {
		fields := map[string]string{"trade_status": status, "total_amount": total, "out_trade_no": outTradeNo,
			"notify_id": notifyID, "app_id": appID, "refund_fee": refundFee, "out_biz_no": outBizNo, "trade_no": "2026T1"}
		bm := gopay.BodyMap{}
		form := url.Values{}
		for k, v := range fields {
			if v != "" { // Alipay sends no empty field
				bm.Set(k, v)
				form.Set(k, v)
			}
		}
		form.Set("sign", rsaSign(t, key, bm.EncodeAliPaySignParams()))
		form.Set("sign_type", "RSA2")
		switch tamper % 4 {
		case 1:
			form.Set("buyer_id", "added after signing")
		case 2:
			form.Set("sign", rsaSign(t, key, bm.EncodeAliPaySignParams()+"x"))
		case 3:
			form.Set("sign_type", "RSA")
		}
		n, err := a.ParseNotify(app.NotifyMessage{Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body: []byte(form.Encode())})
		if tamper%4 != 0 {
			if err == nil {
				t.Fatalf("tampered notify (%d) accepted: %+v", tamper%4, n)
			}
			return
		}
		accept := appID == fuzzAlipayAppID && notifyID != "" && outTradeNo != ""
		refund := refundFee != ""
		var amount money.Fen
		switch {
		case refund:
			accept = accept && outBizNo != ""
		case status == "TRADE_SUCCESS" || status == "TRADE_FINISHED":
			amt, perr := money.ParseYuan(total)
			accept = accept && perr == nil
			amount = amt
		}
		if accept != (err == nil) {
			t.Fatalf("fields %v: accepted=%v, want %v (err %v)", fields, err == nil, accept, err)
		}
		if err != nil {
			return
		}
		if n.OutTradeNo != outTradeNo || n.NotifyID != notifyID {
			t.Fatalf("notify %+v for trade %q id %q", n, outTradeNo, notifyID)
		}
		if refund != (n.Refund != nil) || (n.State == app.TradePaid && (refund || n.Amount != amount)) {
			t.Fatalf("fields %v read as %+v", fields, n)
		}
	})
}

// A WeChat notify whose body and headers are signed with WeChat's key and whose resource is
// encrypted with our APIv3 key may still carry anything inside: it is accepted only for our
// merchant and app, and a payment only with an amount in CNY. Anything else — an unsigned or
// mis-signed request, another serial, a stale timestamp — is refused without panicking.
func FuzzWechatParseNotify(f *testing.F) {
	good := `{"mchid":"1900000001","appid":"wx0000000000000001","out_trade_no":"PS1","transaction_id":"42","trade_state":"SUCCESS","success_time":"2026-01-01T10:00:00+08:00","amount":{"total":100,"currency":"CNY"}}`
	f.Add("TRANSACTION.SUCCESS", []byte(good), uint8(0))
	f.Add("TRANSACTION.SUCCESS", []byte(good), uint8(1))
	f.Add("TRANSACTION.SUCCESS", []byte(good), uint8(2))
	f.Add("TRANSACTION.SUCCESS", []byte(good), uint8(3))
	f.Add("TRANSACTION.SUCCESS", []byte(strings.Replace(good, "CNY", "USD", 1)), uint8(0))
	f.Add("TRANSACTION.SUCCESS", []byte(strings.Replace(good, `,"amount":{"total":100,"currency":"CNY"}`, "", 1)), uint8(0))
	f.Add("TRANSACTION.SUCCESS", []byte(strings.Replace(good, "1900000001", "1900000002", 1)), uint8(0))
	f.Add("REFUND.SUCCESS", []byte(`{"mchid":"1900000001","out_trade_no":"PS1","out_refund_no":"R1","refund_status":"SUCCESS"}`), uint8(0))
	f.Add("TRANSACTION.SUCCESS", []byte(`not json`), uint8(0))
	key, priv, pub := fuzzKeys(f)
	const apiV3 = "0123456789abcdef0123456789abcdef"
	w, err := NewWechat(WechatConfig{MchID: "1900000001", AppID: "wx0000000000000001", SerialNo: "S1", PrivateKey: priv,
		APIv3Key: apiV3, PublicKeyID: "PUB_KEY_ID_1", PublicKey: pub, BaseURL: "http://127.0.0.1:1", MaxNotifySkew: 5 * time.Minute})
	if err != nil {
		f.Fatal(err)
	}
	block, _ := aes.NewCipher([]byte(apiV3))
	gcm, _ := cipher.NewGCM(block)
	f.Fuzz(func(t *testing.T, event string, plain []byte, tamper uint8) {
		nonce := "0123456789ab"
		sealed := gcm.Seal(nil, []byte(nonce), plain, []byte("transaction"))
		body, _ := json.Marshal(map[string]any{"id": "EV-1", "create_time": "2026-01-01T10:00:00+08:00", "event_type": event,
			"resource_type": "encrypt-resource", "summary": "x", "resource": map[string]string{"original_type": "transaction",
				"algorithm": "AEAD_AES_256_GCM", "ciphertext": base64.StdEncoding.EncodeToString(sealed), "associated_data": "transaction",
				"nonce": nonce}})
		ts, hnonce, serial := strconv.FormatInt(time.Now().Unix(), 10), "n0nce", "PUB_KEY_ID_1"
		sig := rsaSign(t, key, ts+"\n"+hnonce+"\n"+string(body)+"\n")
		switch tamper % 4 {
		case 1:
			sig = rsaSign(t, key, ts+"\n"+hnonce+"\n"+string(body)+" \n")
		case 2:
			serial = "PUB_KEY_ID_2"
		case 3:
			ts = strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
			sig = rsaSign(t, key, ts+"\n"+hnonce+"\n"+string(body)+"\n")
		}
		h := map[string][]string{"Content-Type": {"application/json"}, "Wechatpay-Timestamp": {ts}, "Wechatpay-Nonce": {hnonce},
			"Wechatpay-Signature": {sig}, "Wechatpay-Serial": {serial}}
		n, err := w.ParseNotify(app.NotifyMessage{Header: h, Body: body})
		if tamper%4 != 0 {
			if err == nil {
				t.Fatalf("tampered notify (%d) accepted: %+v", tamper%4, n)
			}
			return
		}
		if err != nil {
			if event == "TRANSACTION.SUCCESS" && string(plain) == good {
				t.Fatalf("a genuine notify was refused: %v", err)
			}
			return
		}
		var res struct {
			Mchid, Appid string
			Amount       *struct {
				Total    int64
				Currency string
			}
		}
		_ = json.Unmarshal(plain, &res)
		if res.Mchid != "1900000001" {
			t.Fatalf("accepted a resource of merchant %q: %+v", res.Mchid, n)
		}
		if n.State == app.TradePaid && (res.Appid != "wx0000000000000001" || res.Amount == nil || res.Amount.Currency != "CNY" ||
			n.Amount != money.Fen(res.Amount.Total)) {
			t.Fatalf("paid notify from %s read as %+v", plain, n)
		}
	})
}
