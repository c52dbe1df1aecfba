package channel

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-pay/crypto/xpem"
	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/pkg/xhttp"
	wechat "github.com/go-pay/gopay/wechat/v3"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/tracing"
	"github.com/paysuite/paysuite/services/payment/internal/app"
)

// WeChat Pay verification modes (WECHAT_VERIFY_MODE, PROVIDERS.md §7): how answers and notifies
// are signed for this merchant.
const (
	VerifyPublicKey   = "publicKey"   // the WeChat Pay public key, serial PUB_KEY_ID_… (new merchants)
	VerifyCertificate = "certificate" // platform certificates from GET /v3/certificates
	VerifyBoth        = "both"        // migrating: either, picked by Wechatpay-Serial
)

// ValidVerifyMode reports whether m is one of the modes above.
func ValidVerifyMode(m string) bool {
	return m == VerifyPublicKey || m == VerifyCertificate || m == VerifyBoth
}

// WechatConfig are the WeChat Pay API v3 merchant credentials.
type WechatConfig struct {
	MchID       string
	AppID       string
	SerialNo    string // merchant certificate serial number
	PrivateKey  string // merchant private key, PEM
	APIv3Key    string // 32 characters
	PublicKeyID string // PUB_KEY_ID_… (publicKey and both modes)
	PublicKey   string // WeChat Pay public key, PEM (publicKey and both modes)
	VerifyMode  string // VerifyPublicKey (default), VerifyCertificate or VerifyBoth
	BaseURL     string // e.g. the sandbox; empty = https://api.mch.weixin.qq.com
	NotifyURL   string // our /notify/wechat
	// RefundNotifyURL is our /notify/wechat/refund, sent with every refund (empty: none).
	RefundNotifyURL string
	MaxNotifySkew   time.Duration
	Timeout         time.Duration
}

// Wechat is one WeChat Pay v3 channel: Native (a QR code, NewWechat), JSAPI or H5
// (its JSAPI and H5, in wechat_jsapi_h5.go). They share query, close, refund and notify.
type Wechat struct {
	cfg     WechatConfig
	product wechatProduct
	client  *wechat.ClientV3
	pub     *rsa.PublicKey // publicKey mode: the one key
}

var _ app.Channel = (*Wechat)(nil)

// NewWechat builds the gopay v3 client; every answer is verified, with the WeChat Pay public key,
// the platform certificates (downloaded now, refreshed by gopay every 12 h), or both.
func NewWechat(cfg WechatConfig) (*Wechat, error) {
	if cfg.VerifyMode == "" {
		cfg.VerifyMode = VerifyPublicKey
	}
	if !ValidVerifyMode(cfg.VerifyMode) {
		return nil, fmt.Errorf("WECHAT_VERIFY_MODE %q: want publicKey, certificate or both", cfg.VerifyMode)
	}
	needKey := cfg.VerifyMode != VerifyCertificate
	if cfg.MchID == "" || cfg.AppID == "" || cfg.SerialNo == "" || cfg.PrivateKey == "" || cfg.APIv3Key == "" ||
		needKey && (cfg.PublicKeyID == "" || cfg.PublicKey == "") {
		return nil, errors.New("wechat: WECHAT_MCH_ID, WECHAT_APP_ID, WECHAT_SERIAL_NO, WECHAT_PRIVATE_KEY, WECHAT_API_V3_KEY (and unless WECHAT_VERIFY_MODE=certificate, WECHAT_PUBLIC_KEY_ID and WECHAT_PUBLIC_KEY) are required")
	}
	if len(cfg.APIv3Key) != 32 {
		return nil, errors.New("WECHAT_API_V3_KEY must be 32 characters")
	}
	c, err := wechat.NewClientV3(cfg.MchID, cfg.SerialNo, cfg.APIv3Key, armored(cfg.PrivateKey, "PRIVATE KEY"))
	if err != nil {
		return nil, fmt.Errorf("wechat merchant private key: %w", err)
	}
	if cfg.BaseURL != "" {
		c.SetProxyHost(cfg.BaseURL)
	}
	// Each provider call is a client span (of the purchase's trace); set before AutoVerifySign,
	// which already calls the provider.
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	c.SetHttpClient(xhttp.NewClient().SetTimeout(timeout).SetTransport(tracing.Transport(http.DefaultTransport)))
	if cfg.VerifyMode != VerifyPublicKey {
		// Both: without the 12 h refresher, which would point WxSerialNo back at the certificate;
		// the public key id set below names the key we want answers signed with (PROVIDERS.md §7).
		if err := c.AutoVerifySign(cfg.VerifyMode == VerifyCertificate); err != nil {
			return nil, fmt.Errorf("wechat platform certificates: %w", err)
		}
	}
	var pub *rsa.PublicKey
	if needKey {
		pubPEM := armored(cfg.PublicKey, "PUBLIC KEY")
		if err := c.AutoVerifySignByPublicKey([]byte(pubPEM), cfg.PublicKeyID); err != nil {
			return nil, fmt.Errorf("wechat pay public key: %w", err)
		}
		if pub, err = xpem.DecodePublicKey([]byte(pubPEM)); err != nil {
			return nil, fmt.Errorf("wechat pay public key: %w", err)
		}
	}
	if cfg.MaxNotifySkew == 0 {
		cfg.MaxNotifySkew = 5 * time.Minute
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Wechat{cfg: cfg, client: c, pub: pub}, nil
}

// notifyKey is the key that must have signed a notify carrying serial: in publicKey mode only our
// public key id; otherwise any key the client holds (certificates by serial, and the public key).
func (w *Wechat) notifyKey(serial string) *rsa.PublicKey {
	if w.cfg.VerifyMode == VerifyPublicKey {
		if serial == w.cfg.PublicKeyID {
			return w.pub
		}
		return nil
	}
	return w.client.WxPublicKeyMap()[serial]
}

func (w *Wechat) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, w.cfg.Timeout)
}

func (w *Wechat) Prepay(ctx context.Context, req app.PrepayRequest) (app.Checkout, error) {
	ctx, cancel := w.ctx(ctx)
	defer cancel()
	bm := w.orderBody(req)
	switch w.product {
	case wechatJSAPI:
		return w.prepayJSAPI(ctx, req, bm)
	case wechatH5:
		return w.prepayH5(ctx, req, bm)
	}
	rsp, err := w.client.V3TransactionNative(ctx, bm)
	if err != nil {
		return app.Checkout{}, fmt.Errorf("wechat native %s: %w", req.OutTradeNo, err)
	}
	if rsp.Code != wechat.Success {
		return app.Checkout{}, fmt.Errorf("wechat native %s: HTTP %d %s %s", req.OutTradeNo, rsp.Code, rsp.ErrResponse.Code, rsp.ErrResponse.Message)
	}
	if rsp.Response.CodeUrl == "" {
		return app.Checkout{}, fmt.Errorf("wechat native %s: no code_url in the answer", req.OutTradeNo)
	}
	return app.Checkout{QRCode: rsp.Response.CodeUrl}, nil
}

// orderBody is what every v3 order request carries.
func (w *Wechat) orderBody(req app.PrepayRequest) gopay.BodyMap {
	bm := gopay.BodyMap{}
	bm.Set("appid", w.cfg.AppID).
		Set("mchid", w.cfg.MchID).
		Set("description", req.Subject).
		Set("out_trade_no", req.OutTradeNo).
		Set("time_expire", req.ExpireAt.In(cst).Format(time.RFC3339)).
		Set("notify_url", w.cfg.NotifyURL).
		SetBodyMap("amount", func(b gopay.BodyMap) {
			b.Set("total", int64(req.Amount)).Set("currency", "CNY")
		})
	return bm
}

func (w *Wechat) Query(ctx context.Context, outTradeNo string) (app.Trade, error) {
	ctx, cancel := w.ctx(ctx)
	defer cancel()
	rsp, err := w.client.V3TransactionQueryOrder(ctx, wechat.OutTradeNo, outTradeNo)
	if err != nil {
		return app.Trade{}, fmt.Errorf("wechat query %s: %w", outTradeNo, err)
	}
	if rsp.Code == http.StatusNotFound && rsp.ErrResponse.Code == "ORDER_NOT_EXIST" {
		return app.Trade{State: app.TradeWaiting, OutTradeNo: outTradeNo}, nil
	}
	if rsp.Code != wechat.Success {
		return app.Trade{}, fmt.Errorf("wechat query %s: HTTP %d %s %s", outTradeNo, rsp.Code, rsp.ErrResponse.Code, rsp.ErrResponse.Message)
	}
	r := rsp.Response
	if r.Mchid != w.cfg.MchID || r.OutTradeNo != outTradeNo {
		return app.Trade{}, fmt.Errorf("wechat query %s answered mchid %s trade %s", outTradeNo, r.Mchid, r.OutTradeNo)
	}
	t := app.Trade{OutTradeNo: outTradeNo, ProviderTradeNo: r.TransactionId}
	switch r.TradeState {
	case "SUCCESS", "REFUND":
		t.State = app.TradePaid
		if r.Amount == nil {
			return app.Trade{}, fmt.Errorf("wechat query %s: paid without amount", outTradeNo)
		}
		if r.Amount.Currency != "CNY" {
			return app.Trade{}, fmt.Errorf("wechat query %s: amount.currency %q is not CNY", outTradeNo, r.Amount.Currency)
		}
		t.Amount = money.Fen(r.Amount.Total)
		t.PaidAt = parseRFC3339(r.SuccessTime)
	case "CLOSED", "REVOKED", "PAYERROR":
		t.State = app.TradeClosed
	default: // NOTPAY, USERPAYING
		t.State = app.TradeWaiting
	}
	return t, nil
}

func (w *Wechat) Close(ctx context.Context, outTradeNo string) error {
	ctx, cancel := w.ctx(ctx)
	defer cancel()
	rsp, err := w.client.V3TransactionCloseOrder(ctx, outTradeNo)
	if err != nil {
		return fmt.Errorf("wechat close %s: %w", outTradeNo, err)
	}
	switch {
	case rsp.Code == wechat.Success:
		return nil
	case rsp.ErrResponse.Code == "ORDERPAID":
		return app.ErrTradePaid
	case rsp.ErrResponse.Code == "ORDER_CLOSED", rsp.ErrResponse.Code == "ORDER_NOT_EXIST":
		return nil
	}
	return fmt.Errorf("wechat close %s: HTTP %d %s %s", outTradeNo, rsp.Code, rsp.ErrResponse.Code, rsp.ErrResponse.Message)
}

// Refund asks POST /v3/refund/domestic/refunds; its answer only means "accepted". Non-200
// answers are sorted as PROVIDERS.md "Refund failures" documents them: NOT_ENOUGH,
// FREQUENCY_LIMITED and SYSTEM_ERROR are "same out_refund_no, later"; the others are final.
func (w *Wechat) Refund(ctx context.Context, req app.RefundRequest) (app.RefundState, time.Time, error) {
	ctx, cancel := w.ctx(ctx)
	defer cancel()
	bm := gopay.BodyMap{}
	bm.Set("out_trade_no", req.OutTradeNo).
		Set("out_refund_no", req.OutRefundNo).
		Set("reason", req.Reason).
		SetBodyMap("amount", func(b gopay.BodyMap) {
			b.Set("refund", int64(req.Amount)).Set("total", int64(req.Total)).Set("currency", "CNY")
		})
	if w.cfg.RefundNotifyURL != "" {
		bm.Set("notify_url", w.cfg.RefundNotifyURL)
	}
	rsp, err := w.client.V3Refund(ctx, bm)
	if err != nil {
		// Includes an answer whose signature does not verify (e.g. a WECHATPAY/SIGNTEST/ probe):
		// its body is ignored and the outcome is unknown.
		return app.RefundPending, time.Time{}, fmt.Errorf("wechat refund %s: %w", req.OutRefundNo, err)
	}
	if rsp.Code != wechat.Success {
		err := fmt.Errorf("wechat refund %s: HTTP %d %s %s", req.OutRefundNo, rsp.Code, rsp.ErrResponse.Code, rsp.ErrResponse.Message)
		return wechatRefundRefusal(rsp.Code, rsp.ErrResponse.Code), time.Time{}, err
	}
	if rsp.Response == nil {
		return app.RefundPending, time.Time{}, fmt.Errorf("wechat refund %s: empty answer", req.OutRefundNo)
	}
	return refundAnswer(req.OutRefundNo, rsp.Response.OutRefundNo, rsp.Response.Status, rsp.Response.SuccessTime, rsp.Response.Amount)
}

// wechatRefundRefusal sorts a non-200 refund answer.
func wechatRefundRefusal(status int, code string) app.RefundState {
	switch {
	case code == "NOT_ENOUGH", code == "FREQUENCY_LIMITED", code == "SYSTEM_ERROR", status >= 500,
		status == http.StatusTooManyRequests, status == http.StatusUnauthorized:
		return app.RefundRetryLater
	}
	// USER_ACCOUNT_ABNORMAL, INVALID_REQUEST, PARAM_ERROR, RESOURCE_NOT_EXISTS, NO_AUTH, …
	return app.RefundRejected
}

// refundAnswer reads a verified refund (answer or query) after checking it is ours and in CNY.
func refundAnswer(outRefundNo, gotNo, status, successTime string, amount *wechat.RefundOrderAmount) (app.RefundState, time.Time, error) {
	if gotNo != outRefundNo {
		return app.RefundPending, time.Time{}, fmt.Errorf("wechat refund %s answered refund %s", outRefundNo, gotNo)
	}
	if amount != nil && amount.Currency != "" && amount.Currency != "CNY" {
		return app.RefundPending, time.Time{}, fmt.Errorf("wechat refund %s in %s, not CNY", outRefundNo, amount.Currency)
	}
	state, err := refundState(status, outRefundNo)
	if state != app.RefundDone {
		return state, time.Time{}, err
	}
	return state, parseRFC3339(successTime), err
}

func (w *Wechat) QueryRefund(ctx context.Context, _, outRefundNo string) (app.RefundState, time.Time, error) {
	ctx, cancel := w.ctx(ctx)
	defer cancel()
	rsp, err := w.client.V3RefundQuery(ctx, outRefundNo, nil)
	if err != nil {
		return app.RefundPending, time.Time{}, fmt.Errorf("wechat refund query %s: %w", outRefundNo, err)
	}
	if rsp.Code == http.StatusNotFound {
		return app.RefundUnknown, time.Time{}, nil
	}
	if rsp.Code != wechat.Success {
		return app.RefundPending, time.Time{}, fmt.Errorf("wechat refund query %s: HTTP %d %s", outRefundNo, rsp.Code, rsp.ErrResponse.Code)
	}
	if rsp.Response == nil {
		return app.RefundPending, time.Time{}, fmt.Errorf("wechat refund query %s: empty answer", outRefundNo)
	}
	return refundAnswer(outRefundNo, rsp.Response.OutRefundNo, rsp.Response.Status, rsp.Response.SuccessTime, rsp.Response.Amount)
}

// refundState maps WeChat's refund status: SUCCESS done; CLOSED final (nothing went back);
// ABNORMAL waits for a person; PROCESSING (and anything new) is asked again later.
func refundState(s, outRefundNo string) (app.RefundState, error) {
	switch s {
	case "SUCCESS":
		return app.RefundDone, nil
	case "CLOSED":
		return app.RefundRejected, fmt.Errorf("wechat refund %s: status CLOSED", outRefundNo)
	case "ABNORMAL":
		return app.RefundAbnormal, nil
	}
	return app.RefundPending, nil
}

// ParseNotify: V3ParseNotify → serial is our public key id → timestamp fresh → VerifySignByPK →
// DecryptPayCipherText → mchid/appid ours. Nothing is trusted before the signature holds.
func (w *Wechat) ParseNotify(msg app.NotifyMessage) (app.Notify, error) {
	req, err := wechat.V3ParseNotify(notifyRequest(msg))
	if err != nil {
		return app.Notify{}, refused("unreadable notify: "+err.Error(), "", "")
	}
	si := req.SignInfo
	key := w.notifyKey(si.HeaderSerial)
	if key == nil {
		return app.Notify{}, refused("Wechatpay-Serial "+si.HeaderSerial+" names no key of ours ("+w.cfg.VerifyMode+" mode)", "", req.Id)
	}
	ts, err := strconv.ParseInt(si.HeaderTimestamp, 10, 64)
	if err != nil {
		return app.Notify{}, refused("bad Wechatpay-Timestamp", "", req.Id)
	}
	if skew := time.Since(time.Unix(ts, 0)); skew > w.cfg.MaxNotifySkew || skew < -w.cfg.MaxNotifySkew {
		return app.Notify{}, refused(fmt.Sprintf("Wechatpay-Timestamp off by %s", skew.Round(time.Second)), "", req.Id)
	}
	if err := req.VerifySignByPK(key); err != nil {
		// Also WeChat's signature probes (Wechatpay-Signature "WECHATPAY/SIGNTEST/…"): refused
		// like any notify that does not verify, and nothing changes (PROVIDERS.md §8).
		reason := "bad signature: " + err.Error()
		if strings.HasPrefix(si.HeaderSignature, "WECHATPAY/SIGNTEST/") {
			reason = "signature probe (WECHATPAY/SIGNTEST/): " + reason
		}
		return app.Notify{}, refused(reason, "", req.Id)
	}
	if req.Id == "" {
		return app.Notify{}, refused("notify without id", "", "")
	}
	if strings.HasPrefix(req.EventType, "REFUND.") {
		return w.refundNotify(req)
	}
	res, err := req.DecryptPayCipherText(w.cfg.APIv3Key)
	if err != nil {
		return app.Notify{}, refused("cannot decrypt resource", "", req.Id)
	}
	if res.Mchid != w.cfg.MchID {
		return app.Notify{}, refused("mchid "+res.Mchid+" is not ours", res.OutTradeNo, req.Id)
	}
	if res.Appid != w.cfg.AppID {
		return app.Notify{}, refused("appid "+res.Appid+" is not ours", res.OutTradeNo, req.Id)
	}
	n := app.Notify{NotifyID: req.Id, Trade: app.Trade{OutTradeNo: res.OutTradeNo, ProviderTradeNo: res.TransactionId}}
	if req.EventType == "TRANSACTION.SUCCESS" && res.TradeState == "SUCCESS" {
		if res.Amount == nil {
			return app.Notify{}, refused("success without amount", res.OutTradeNo, req.Id)
		}
		if res.Amount.Currency != "CNY" {
			return app.Notify{}, refused("amount.currency "+res.Amount.Currency+" is not CNY", res.OutTradeNo, req.Id)
		}
		n.State = app.TradePaid
		n.Amount = money.Fen(res.Amount.Total)
		n.PaidAt = parseRFC3339(res.SuccessTime)
	} else {
		n.State = app.TradeWaiting
	}
	return n, nil
}

// refundNotify reads a verified REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED: the resource
// must be our merchant's and its refund_status must be the one the event names (gopay checks
// neither).
func (w *Wechat) refundNotify(req *wechat.V3NotifyReq) (app.Notify, error) {
	res, err := req.DecryptRefundCipherText(w.cfg.APIv3Key)
	if err != nil {
		return app.Notify{}, refused("cannot decrypt refund resource", "", req.Id)
	}
	if res.Mchid != w.cfg.MchID {
		return app.Notify{}, refused("mchid "+res.Mchid+" is not ours", res.OutTradeNo, req.Id)
	}
	if res.OutRefundNo == "" || res.OutTradeNo == "" {
		return app.Notify{}, refused("refund notify without out_refund_no or out_trade_no", res.OutTradeNo, req.Id)
	}
	if want := "REFUND." + res.RefundStatus; want != req.EventType {
		return app.Notify{}, refused("event_type "+req.EventType+" but refund_status "+res.RefundStatus, res.OutTradeNo, req.Id)
	}
	notice := &app.RefundNotice{OutRefundNo: res.OutRefundNo, Detail: "wechat " + req.EventType}
	switch res.RefundStatus {
	case "SUCCESS":
		notice.State, notice.SettledAt = app.RefundDone, parseRFC3339(res.SuccessTime)
	case "ABNORMAL":
		notice.State = app.RefundAbnormal
	case "CLOSED":
		notice.State = app.RefundRejected
	default:
		return app.Notify{}, refused("refund_status "+res.RefundStatus, res.OutTradeNo, req.Id)
	}
	return app.Notify{NotifyID: req.Id, Trade: app.Trade{OutTradeNo: res.OutTradeNo, ProviderTradeNo: res.TransactionId},
		Refund: notice}, nil
}

func parseRFC3339(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
