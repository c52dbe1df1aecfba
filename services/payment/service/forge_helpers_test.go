package service_test

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
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func parseKey(t *testing.T, p string) *rsa.PrivateKey {
	t.Helper()
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		t.Fatal("not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func otherKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaSign(t *testing.T, k *rsa.PrivateKey, content string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(content))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// alipayNotify is an Alipay TRADE_SUCCESS trade_status_sync form signed by key, as the gateway
// sends it.
func alipayNotify(t *testing.T, key *rsa.PrivateKey, appID, outTradeNo, yuan, notifyID string) []byte {
	t.Helper()
	return alipayStatusNotify(t, key, appID, outTradeNo, yuan, notifyID, "TRADE_SUCCESS")
}

// alipayStatusNotify is alipayNotify with another trade_status (TRADE_FINISHED, TRADE_CLOSED…).
func alipayStatusNotify(t *testing.T, key *rsa.PrivateKey, appID, outTradeNo, yuan, notifyID, tradeStatus string) []byte {
	t.Helper()
	now := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
	f := map[string]string{
		"notify_time": now, "notify_type": "trade_status_sync", "notify_id": notifyID, "charset": "utf-8",
		"version": "1.0", "app_id": appID, "auth_app_id": appID, "trade_no": "2025" + notifyID,
		"out_trade_no": outTradeNo, "buyer_id": "2088000000000001", "seller_id": "2088000000000002",
		"trade_status": tradeStatus, "total_amount": yuan, "receipt_amount": yuan, "invoice_amount": yuan,
		"buyer_pay_amount": yuan, "point_amount": "0.00", "subject": "test", "gmt_create": now, "gmt_payment": now,
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + f[k]
	}
	v := url.Values{}
	for k, s := range f {
		v.Set(k, s)
	}
	v.Set("sign_type", "RSA2")
	v.Set("sign", rsaSign(t, key, strings.Join(parts, "&")))
	return []byte(v.Encode())
}

// wechatNotify is a WeChat Pay v3 TRANSACTION.SUCCESS notify: resource encrypted with apiV3Key,
// headers signed by key.
func wechatNotify(t *testing.T, key *rsa.PrivateKey, apiV3Key, serial, appID, mchID, outTradeNo string, fen int64, id string) ([]byte, http.Header) {
	t.Helper()
	return wechatNotifyIn(t, key, apiV3Key, serial, appID, mchID, outTradeNo, fen, "CNY", id)
}

// wechatNotifyIn is wechatNotify with amount.currency set to currency.
func wechatNotifyIn(t *testing.T, key *rsa.PrivateKey, apiV3Key, serial, appID, mchID, outTradeNo string, fen int64, currency, id string) ([]byte, http.Header) {
	t.Helper()
	plain, _ := json.Marshal(map[string]any{
		"appid": appID, "mchid": mchID, "out_trade_no": outTradeNo, "transaction_id": "4200" + id,
		"trade_type": "NATIVE", "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
		"attach": "", "success_time": time.Now().Format(time.RFC3339), "payer": map[string]string{"openid": "o1"},
		"amount": map[string]any{"total": fen, "payer_total": fen, "currency": currency, "payer_currency": currency},
	})
	block, _ := aes.NewCipher([]byte(apiV3Key))
	gcm, _ := cipher.NewGCM(block)
	nonce := "abcdefghijkl"
	sealed := gcm.Seal(nil, []byte(nonce), plain, []byte("transaction"))
	body, _ := json.Marshal(map[string]any{
		"id": id, "create_time": time.Now().Format(time.RFC3339), "resource_type": "encrypt-resource",
		"event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
		"resource": map[string]string{
			"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "associated_data": "transaction",
			"nonce": nonce, "ciphertext": base64.StdEncoding.EncodeToString(sealed),
		},
	})
	ts, hn := strconv.FormatInt(time.Now().Unix(), 10), fmt.Sprintf("n%d", time.Now().UnixNano())
	h := http.Header{}
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", hn)
	h.Set("Wechatpay-Serial", serial)
	h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	h.Set("Wechatpay-Signature", rsaSign(t, key, ts+"\n"+hn+"\n"+string(body)+"\n"))
	return body, h
}
