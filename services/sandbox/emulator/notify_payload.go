package emulator

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"net/http"
	"net/url"
	"time"
)

// alipayNotify builds the trade_status_sync form, signed over every field except sign and
// sign_type (sorted, k=v joined by &, not URL-encoded).
func (e *Emulator) alipayNotify(t *Trade) ([]byte, http.Header, error) {
	paid := yuan(t.AmountFen)
	f := map[string]string{
		"notify_time":      e.now().In(cst).Format(alipayTimeLayout),
		"notify_type":      "trade_status_sync",
		"notify_id":        t.Notify.ID,
		"charset":          "utf-8",
		"version":          "1.0",
		"sign_type":        "RSA2",
		"app_id":           t.AppID,
		"auth_app_id":      t.AppID,
		"trade_no":         t.TradeNo,
		"out_trade_no":     t.OutTradeNo,
		"buyer_id":         t.BuyerID,
		"buyer_logon_id":   maskLogon(t.BuyerID),
		"seller_id":        e.keys.sellerID,
		"trade_status":     "TRADE_SUCCESS",
		"total_amount":     paid,
		"receipt_amount":   paid,
		"invoice_amount":   paid,
		"buyer_pay_amount": paid,
		"point_amount":     "0.00",
		"subject":          t.Subject,
		"gmt_create":       t.CreatedAt.In(cst).Format(alipayTimeLayout),
		"gmt_payment":      t.PaidAt.In(cst).Format(alipayTimeLayout),
		"fund_bill_list":   `[{"amount":"` + paid + `","fundChannel":"ALIPAYACCOUNT"}]`,
	}
	f["sign"] = e.alipaySign([]byte(alipaySignContent(f, "sign", "sign_type")))
	form := url.Values{}
	for k, v := range f {
		form.Set(k, v)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return []byte(form.Encode()), h, nil
}

type wxNotifyResource struct {
	OriginalType   string `json:"original_type"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

type wxNotifyBody struct {
	ID           string           `json:"id"`
	CreateTime   string           `json:"create_time"`
	ResourceType string           `json:"resource_type"`
	EventType    string           `json:"event_type"`
	Summary      string           `json:"summary"`
	Resource     wxNotifyResource `json:"resource"`
}

// wechatNotify builds the TRANSACTION.SUCCESS event: the transaction encrypted with
// AES-256-GCM (APIv3 key, 12-character nonce, associated data "transaction"), the body signed
// in the Wechatpay-* headers.
func (e *Emulator) wechatNotify(t *Trade) ([]byte, http.Header, error) {
	tx := wechatView(t)
	tx.TradeState, tx.TradeStateDesc = "SUCCESS", "支付成功" // the event is the payment, whatever came after
	plain, err := compactJSON(tx)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher([]byte(e.keys.creds.Wechat.APIv3Key))
	if err != nil {
		return nil, nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	nonce, aad := randAlnum(12), "transaction"
	sealed := gcm.Seal(nil, []byte(nonce), plain, []byte(aad))
	body, err := compactJSON(wxNotifyBody{
		ID: t.Notify.ID, CreateTime: e.now().In(cst).Format(time.RFC3339), ResourceType: "encrypt-resource",
		EventType: "TRANSACTION.SUCCESS", Summary: "支付成功",
		Resource: wxNotifyResource{
			OriginalType: "transaction", Algorithm: "AEAD_AES_256_GCM",
			Ciphertext: base64.StdEncoding.EncodeToString(sealed), AssociatedData: aad, Nonce: nonce,
		},
	})
	if err != nil {
		return nil, nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	e.signWechatHeaders(h, body)
	h.Set("Request-ID", randUpperHex(16))
	return body, h, nil
}
