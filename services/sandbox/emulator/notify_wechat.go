package emulator

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"time"
)

var errNoSuchRefund = errors.New("refund not found")

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

// wxRefundResource is the decrypted resource of a REFUND.* notify.
type wxRefundResource struct {
	MchID               string             `json:"mchid"`
	OutTradeNo          string             `json:"out_trade_no"`
	TransactionID       string             `json:"transaction_id"`
	OutRefundNo         string             `json:"out_refund_no"`
	RefundID            string             `json:"refund_id"`
	RefundStatus        string             `json:"refund_status"`
	SuccessTime         string             `json:"success_time,omitempty"`
	UserReceivedAccount string             `json:"user_received_account"`
	Amount              wxRefundNotifySums `json:"amount"`
}

type wxRefundNotifySums struct {
	Total       int64 `json:"total"`
	Refund      int64 `json:"refund"`
	PayerTotal  int64 `json:"payer_total"`
	PayerRefund int64 `json:"payer_refund"`
}

var refundEvents = map[string]struct{ event, summary string }{
	RefundSuccess:  {"REFUND.SUCCESS", "退款成功"},
	RefundAbnormal: {"REFUND.ABNORMAL", "退款异常"},
	RefundClosed:   {"REFUND.CLOSED", "退款关闭"},
}

// wechatNotify builds a TRANSACTION.SUCCESS or REFUND.* event: the resource encrypted with
// AES-256-GCM (APIv3 key, 12-character nonce, associated data "transaction" / "refund"), the body
// signed in the Wechatpay-* headers, stamped now+skew.
func (e *Emulator) wechatNotify(t *Trade, ref notifyRef, n Notify, skew time.Duration) ([]byte, http.Header, error) {
	var (
		resource       any
		kind           = "transaction"
		event, summary = "TRANSACTION.SUCCESS", "支付成功"
	)
	if ref.kind == refundNotify {
		r := t.refund(ref.refund)
		if r == nil {
			return nil, nil, errNoSuchRefund
		}
		kind, resource = "refund", e.refundResource(t, r)
		ev := refundEvents[r.outcome()]
		event, summary = ev.event, ev.summary
	} else {
		tx := wechatView(t, e.now())
		tx.TradeState, tx.TradeStateDesc = "SUCCESS", "支付成功" // the event is the payment, whatever came after
		resource = tx
	}
	sealed, nonce, err := e.sealWechat(resource, kind)
	if err != nil {
		return nil, nil, err
	}
	body, err := compactJSON(wxNotifyBody{
		ID: n.ID, CreateTime: e.now().In(cst).Format(time.RFC3339), ResourceType: "encrypt-resource",
		EventType: event, Summary: summary,
		Resource: wxNotifyResource{OriginalType: kind, Algorithm: "AEAD_AES_256_GCM", Ciphertext: sealed, AssociatedData: kind, Nonce: nonce},
	})
	if err != nil {
		return nil, nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	e.signWechatHeaders(h, body, e.notifySigner(), e.now().Add(skew))
	h.Set("Request-ID", randUpperHex(16))
	return body, h, nil
}

func (e *Emulator) refundResource(t *Trade, r *Refund) wxRefundResource {
	v := wxRefundResource{
		MchID: t.MchID, OutTradeNo: t.OutTradeNo, TransactionID: t.TradeNo, OutRefundNo: r.OutRefundNo,
		RefundID: r.RefundID, RefundStatus: r.outcome(), UserReceivedAccount: "支付用户零钱",
		Amount: wxRefundNotifySums{Total: t.AmountFen, Refund: r.AmountFen, PayerTotal: t.AmountFen, PayerRefund: r.AmountFen},
	}
	if r.outcome() == RefundSuccess {
		v.SuccessTime = r.doneAt().In(cst).Format(time.RFC3339)
	}
	return v
}

// sealWechat encrypts v's JSON as WeChat encrypts notify resources and certificates.
func (e *Emulator) sealWechat(v any, associatedData string) (ciphertext, nonce string, err error) {
	plain, ok := v.([]byte)
	if !ok {
		if plain, err = compactJSON(v); err != nil {
			return "", "", err
		}
	}
	block, err := aes.NewCipher([]byte(e.keys.creds.Wechat.APIv3Key))
	if err != nil {
		return "", "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", "", err
	}
	nonce = randAlnum(12)
	sealed := gcm.Seal(nil, []byte(nonce), plain, []byte(associatedData))
	return base64.StdEncoding.EncodeToString(sealed), nonce, nil
}

// signTestProbe is a deliberately wrong Wechatpay-Signature, as WeChat's signature probes send.
func signTestProbe() string {
	junk := make([]byte, 256)
	_, _ = rand.Read(junk)
	return "WECHATPAY/SIGNTEST/" + base64.StdEncoding.EncodeToString(junk)
}
