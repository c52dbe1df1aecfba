package channel

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Shanghai for gopay's SetLocation on hosts without a zoneinfo database

	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/alipay"
	"github.com/go-pay/gopay/pkg/xhttp"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/tracing"
	"github.com/paysuite/paysuite/services/payment/internal/app"
)

// AlipayConfig are the Alipay open platform credentials (public-key mode, RSA2).
type AlipayConfig struct {
	AppID           string
	AppPrivateKey   string // PEM or bare base64 (PKCS#1 or PKCS#8)
	AlipayPublicKey string // PEM or bare base64
	BaseURL         string // e.g. the sandbox; empty = https://openapi.alipay.com
	// CashierBaseURL is where the buyer's browser opens page/WAP pay URLs; empty = BaseURL. Differs
	// only where the service and the browser reach the gateway by different names (compose).
	CashierBaseURL string
	NotifyURL      string // our /notify/alipay
	Timeout        time.Duration
}

// Alipay is one Alipay channel over the classic gateway: face-to-face QR
// (alipay.trade.precreate, NewAlipay), page pay or WAP pay (its Page and Wap, in
// alipay_page.go). They share query, close, refund and notify.
type Alipay struct {
	cfg     AlipayConfig
	product alipayProduct
	client  *alipay.Client
	cashier *url.URL // where page/WAP pay URLs point: CashierBaseURL or BaseURL; nil for the real gateway
	// Parsed once: alipay.VerifySign re-decodes the PEM and re-parses the key on every notify.
	publicKey *rsa.PublicKey
	// download GETs bill_download_url (sent to BaseURL too when set, as every call is).
	download *http.Client
}

var _ app.Channel = (*Alipay)(nil)

// NewAlipay builds the gopay client: every synchronous answer is verified (AutoVerifySign).
func NewAlipay(cfg AlipayConfig) (*Alipay, error) {
	if cfg.AppID == "" || cfg.AppPrivateKey == "" || cfg.AlipayPublicKey == "" {
		return nil, errors.New("alipay: ALIPAY_APP_ID, ALIPAY_APP_PRIVATE_KEY and ALIPAY_PUBLIC_KEY are required")
	}
	c, err := alipay.NewClient(cfg.AppID, pemBody(cfg.AppPrivateKey), true)
	if err != nil {
		return nil, fmt.Errorf("alipay private key: %w", err)
	}
	pub := armored(cfg.AlipayPublicKey, "PUBLIC KEY")
	c.AutoVerifySign([]byte(pub))
	// notify_url is a public request parameter; the client adds it to every request.
	c.NotifyUrl = cfg.NotifyURL
	// timestamp in the providers' clock, whatever TZ the process runs in.
	c.SetLocation("Asia/Shanghai")
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	hc := xhttp.NewClient().SetTimeout(timeout)
	var base *url.URL
	if cfg.BaseURL != "" {
		base, err = url.Parse(cfg.BaseURL)
		if err != nil || base.Host == "" {
			return nil, fmt.Errorf("ALIPAY_BASE_URL %q: want scheme://host[:port]", cfg.BaseURL)
		}
		hc.SetTransport(hostRewrite{base: base, next: tracing.Transport(http.DefaultTransport)})
	} else {
		hc.SetTransport(tracing.Transport(http.DefaultTransport))
	}
	c.SetHttpClient(hc)
	cashier := base
	if cfg.CashierBaseURL != "" {
		if cashier, err = url.Parse(cfg.CashierBaseURL); err != nil || cashier.Host == "" {
			return nil, fmt.Errorf("ALIPAY_CASHIER_BASE_URL %q: want scheme://host[:port]", cfg.CashierBaseURL)
		}
	}
	key, err := parseRSAPublicKey(pemBody(pub))
	if err != nil {
		return nil, fmt.Errorf("ALIPAY_PUBLIC_KEY: %w", err)
	}
	download := &http.Client{Timeout: 4 * timeout}
	if cfg.BaseURL != "" {
		base, _ := url.Parse(cfg.BaseURL)
		download.Transport = hostRewrite{base: base, next: http.DefaultTransport}
	}
	return &Alipay{cfg: cfg, client: c, cashier: cashier, publicKey: key, download: download}, nil
}

// parseRSAPublicKey reads a bare base64 SubjectPublicKeyInfo, as gopay's VerifySign does after
// re-armoring it as "PUBLIC KEY".
func parseRSAPublicKey(body string) (*rsa.PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	key, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%T is not an RSA public key", pub)
	}
	return key, nil
}

func (a *Alipay) Prepay(ctx context.Context, req app.PrepayRequest) (app.Checkout, error) {
	if a.product != alipayPrecreate {
		return a.prepayPage(ctx, req)
	}
	bm := gopay.BodyMap{}
	bm.Set("out_trade_no", req.OutTradeNo).
		Set("total_amount", req.Amount.Yuan()).
		Set("subject", req.Subject).
		Set("time_expire", req.ExpireAt.In(cst).Format(shanghaiLayout))
	rsp, err := a.client.TradePrecreate(ctx, bm)
	if err != nil {
		return app.Checkout{}, fmt.Errorf("alipay precreate %s: %w", req.OutTradeNo, err)
	}
	if rsp.Response.QrCode == "" {
		return app.Checkout{}, fmt.Errorf("alipay precreate %s: no qr_code in the answer", req.OutTradeNo)
	}
	return app.Checkout{QRCode: rsp.Response.QrCode}, nil
}

func (a *Alipay) Query(ctx context.Context, outTradeNo string) (app.Trade, error) {
	bm := gopay.BodyMap{}
	bm.Set("out_trade_no", outTradeNo)
	rsp, err := a.client.TradeQuery(ctx, bm)
	if biz, ok := alipay.IsBizError(err); ok && biz.SubCode == "ACQ.TRADE_NOT_EXIST" {
		// An unscanned precreate trade is invisible to trade.query: not paid yet.
		return app.Trade{State: app.TradeWaiting, OutTradeNo: outTradeNo}, nil
	}
	if err != nil {
		return app.Trade{}, fmt.Errorf("alipay query %s: %w", outTradeNo, err)
	}
	r := rsp.Response
	if r.OutTradeNo != "" && r.OutTradeNo != outTradeNo {
		return app.Trade{}, fmt.Errorf("alipay query %s answered trade %s", outTradeNo, r.OutTradeNo)
	}
	t := app.Trade{OutTradeNo: outTradeNo, ProviderTradeNo: r.TradeNo}
	switch r.TradeStatus {
	case "TRADE_SUCCESS", "TRADE_FINISHED":
		t.State = app.TradePaid
		if r.TradeStatus == "TRADE_FINISHED" {
			t.State = app.TradeFinished
		}
		if t.Amount, err = money.ParseYuan(r.TotalAmount); err != nil {
			return app.Trade{}, fmt.Errorf("alipay query %s total_amount: %w", outTradeNo, err)
		}
		t.PaidAt = parseShanghai(r.SendPayDate)
	case "TRADE_CLOSED":
		t.State = app.TradeClosed
	default: // WAIT_BUYER_PAY
		t.State = app.TradeWaiting
	}
	return t, nil
}

func (a *Alipay) Close(ctx context.Context, outTradeNo string) error {
	bm := gopay.BodyMap{}
	bm.Set("out_trade_no", outTradeNo)
	_, err := a.client.TradeClose(ctx, bm)
	if biz, ok := alipay.IsBizError(err); ok {
		switch biz.SubCode {
		case "ACQ.TRADE_NOT_EXIST":
			return nil // never scanned: no trade exists yet (its QR may stay payable until it expires)
		case "ACQ.TRADE_STATUS_ERROR", "ACQ.REASON_TRADE_STATUS_INVALID", "ACQ.REASON_ILLEGAL_STATUS":
			// "Only a trade waiting for the buyer can be closed": paid or closed already. The
			// close answer does not say which, so the query decides.
			return a.closeRefused(ctx, outTradeNo, biz.SubCode)
		}
	}
	if err != nil {
		return fmt.Errorf("alipay close %s: %w", outTradeNo, err)
	}
	return nil
}

// closeRefused reads the state of a trade Alipay would not close: paid → ErrTradePaid, closed →
// done; still waiting would contradict the answer, so the caller retries.
func (a *Alipay) closeRefused(ctx context.Context, outTradeNo, subCode string) error {
	t, err := a.Query(ctx, outTradeNo)
	switch {
	case err != nil:
		return fmt.Errorf("alipay close %s answered %s; querying it: %w", outTradeNo, subCode, err)
	case t.State.Paid():
		return app.ErrTradePaid
	case t.State == app.TradeClosed:
		return nil
	}
	return fmt.Errorf("alipay close %s answered %s but the trade is still waiting", outTradeNo, subCode)
}

// Refund asks alipay.trade.refund. Only fund_change "Y" says the money moved; "N" (a repeat, or
// a refund still processing) is confirmed by the refund query later. Refusals the docs call
// retryable come back as RefundRetryLater (same out_request_no later), the rest as final.
func (a *Alipay) Refund(ctx context.Context, req app.RefundRequest) (app.RefundState, time.Time, error) {
	bm := gopay.BodyMap{}
	bm.Set("out_trade_no", req.OutTradeNo).
		Set("refund_amount", req.Amount.Yuan()).
		Set("out_request_no", req.OutRefundNo).
		Set("refund_reason", req.Reason)
	rsp, err := a.client.TradeRefund(ctx, bm)
	if biz, ok := alipay.IsBizError(err); ok {
		err := fmt.Errorf("alipay refund %s: %s %s %s", req.OutRefundNo, biz.Code, biz.SubCode, biz.SubMsg)
		return alipayRefundRefusal(biz.SubCode), time.Time{}, err
	}
	if err != nil {
		return app.RefundPending, time.Time{}, fmt.Errorf("alipay refund %s: %w", req.OutRefundNo, err) // outcome unknown
	}
	if rsp.Response.FundChange == "Y" {
		return app.RefundDone, parseShanghai(rsp.Response.GmtRefundPay), nil
	}
	return app.RefundPending, time.Time{}, nil
}

// alipayRefundRefusal sorts alipay.trade.refund's sub_codes (PROVIDERS.md "Refund failures").
func alipayRefundRefusal(subCode string) app.RefundState {
	switch subCode {
	case "ACQ.SYSTEM_ERROR", "ACQ.SELLER_BALANCE_NOT_ENOUGH", "isv.method-call-limited", "aop.ACQ.SYSTEM_ERROR", "":
		return app.RefundRetryLater
	}
	if strings.HasPrefix(subCode, "isp.") { // the gateway's own trouble
		return app.RefundRetryLater
	}
	// ACQ.TRADE_NOT_ALLOW_REFUND, ACQ.REFUND_AMT_NOT_EQUAL_TOTAL, ACQ.TRADE_HAS_FINISHED,
	// ACQ.TRADE_STATUS_ERROR, ACQ.TRADE_NOT_EXIST, ACQ.DISCORDANT_REPEAT_REQUEST, … are final.
	return app.RefundRejected
}

// QueryRefund asks alipay.trade.fastpay.refund.query. Refund data appears only once the refund
// succeeded: an answer without it is "not through yet", never a failure (a refund whose submit
// never arrived is submitted again by the caller only when the submit itself went unanswered).
func (a *Alipay) QueryRefund(ctx context.Context, outTradeNo, outRefundNo string) (app.RefundState, time.Time, error) {
	bm := gopay.BodyMap{}
	bm.Set("out_trade_no", outTradeNo).Set("out_request_no", outRefundNo)
	rsp, err := a.client.TradeFastPayRefundQuery(ctx, bm)
	if err != nil {
		return app.RefundPending, time.Time{}, fmt.Errorf("alipay refund query %s: %w", outRefundNo, err)
	}
	r := rsp.Response
	switch {
	case r.RefundStatus == "REFUND_SUCCESS":
		return app.RefundDone, parseShanghai(r.GmtRefundPay), nil
	case r.OutRequestNo == "" && r.RefundAmount == "":
		return app.RefundPending, time.Time{}, nil
	case r.RefundStatus == "":
		// Older merchants get no refund_status: an answered refund with an amount succeeded.
		return app.RefundDone, parseShanghai(r.GmtRefundPay), nil
	}
	return app.RefundPending, time.Time{}, nil
}

// ParseNotify verifies the RSA2 signature over every field but sign/sign_type, and that the
// notify is for our app id, before anything else looks at it. The fields are the form body
// Alipay POSTs; nothing from our own URL joins them.
func (a *Alipay) ParseNotify(msg app.NotifyMessage) (app.Notify, error) {
	f, err := notifyForm(notifyRequest(msg))
	if err != nil {
		return app.Notify{}, refused("unreadable form: "+err.Error(), "", "")
	}
	outTradeNo, notifyID := f["out_trade_no"], f["notify_id"]
	if f["sign"] == "" {
		return app.Notify{}, refused("no signature", outTradeNo, notifyID)
	}
	if st := f["sign_type"]; st != "RSA2" {
		return app.Notify{}, refused("sign_type "+st+" is not RSA2", outTradeNo, notifyID)
	}
	if err := a.verify(f); err != nil {
		return app.Notify{}, refused("bad signature: "+err.Error(), outTradeNo, notifyID)
	}
	if got := f["app_id"]; got != a.cfg.AppID {
		return app.Notify{}, refused("app_id "+got+" is not ours", outTradeNo, notifyID)
	}
	if notifyID == "" || outTradeNo == "" {
		return app.Notify{}, refused("notify_id or out_trade_no missing", outTradeNo, notifyID)
	}
	n := app.Notify{NotifyID: notifyID, Trade: app.Trade{OutTradeNo: outTradeNo, ProviderTradeNo: f["trade_no"]}}
	if f["refund_fee"] != "" || f["gmt_refund"] != "" {
		// A refund's notify (to the payment's notify_url): TRADE_SUCCESS for a partial refund,
		// TRADE_CLOSED for one that refunded everything. It is sent once the refund went
		// through, and it is never a second payment. out_biz_no is the refund's out_request_no.
		if f["out_biz_no"] == "" {
			return app.Notify{}, refused("refund notify without out_biz_no", outTradeNo, notifyID)
		}
		n.State = app.TradeWaiting
		n.Refund = &app.RefundNotice{OutRefundNo: f["out_biz_no"], State: app.RefundDone, SettledAt: parseShanghai(f["gmt_refund"]),
			Detail: "alipay refund notify " + f["trade_status"] + " refund_fee " + f["refund_fee"]}
		return n, nil
	}
	switch f["trade_status"] {
	case "TRADE_SUCCESS", "TRADE_FINISHED":
		n.State = app.TradePaid
		amt, err := money.ParseYuan(f["total_amount"])
		if err != nil {
			return app.Notify{}, refused("total_amount: "+err.Error(), outTradeNo, notifyID)
		}
		n.Amount = amt
		n.PaidAt = parseShanghai(f["gmt_payment"])
	case "TRADE_CLOSED":
		n.State = app.TradeClosed
	default:
		n.State = app.TradeWaiting
	}
	return n, nil
}

// notifyForm is alipay.ParseNotifyToBodyMap into plain strings: r.ParseForm (body and query),
// then every field given exactly once; gopay drops a repeated field, and so do we. Skips the
// BodyMap (map[string]any) boxing and verify's copy of it: ~3 µs and 27 allocations a notify
// in a microbenchmark; r.ParseForm itself (~20 µs) is most of what is left.
func notifyForm(r *http.Request) (map[string]string, error) {
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return singleValues(r.Form), nil
}

// singleValues keeps every field given exactly once.
func singleValues(vals url.Values) map[string]string {
	f := make(map[string]string, len(vals))
	for k, v := range vals {
		if len(v) == 1 {
			f[k] = v[0]
		}
	}
	return f
}

// verify is alipay.VerifySign (RSA2) with the key parsed once: SHA-256, PKCS#1 v1.5 over
// signContent.
func (a *Alipay) verify(f map[string]string) error {
	sig, err := base64.StdEncoding.DecodeString(f["sign"])
	if err != nil {
		return fmt.Errorf("sign is not base64: %w", err)
	}
	sum := sha256.Sum256([]byte(signContent(f)))
	return rsa.VerifyPKCS1v15(a.publicKey, crypto.SHA256, sum[:], sig)
}

// signContent is gopay's EncodeAliPaySignParams over every field but sign and sign_type: keys
// sorted, empty values left out, k=v joined by &.
func signContent(f map[string]string) string {
	keys := make([]string, 0, len(f))
	n := 0
	for k, v := range f {
		if k != "sign" && k != "sign_type" && v != "" {
			keys = append(keys, k)
			n += len(k) + len(v) + 2
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(n)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(f[k])
	}
	return b.String()
}

func parseShanghai(s string) time.Time {
	t, err := time.ParseInLocation(shanghaiLayout, s, cst)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
