package emulator

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The buyer's side. The QR code of a trade is a URL on the sandbox with an unguessable token:
// opening it is "scanning". Page, WAP and H5 payUrls open the sandbox's cashiers. POST
// /sandbox/pay pays without a browser: {"qrCode"}, {"payUrl"} or, playing the WeChat client,
// {"prepayId", appId, timeStamp, nonceStr, package, signType, paySign}.

func (e *Emulator) qrURL(token string) string { return e.cfg.PublicURL + "/qr/" + token }

// tokenFromQR accepts the full QR URL (any host: the sandbox may sit behind another name) or
// the bare token.
func tokenFromQR(qr string) string {
	if u, err := url.Parse(qr); err == nil && strings.HasPrefix(u.Path, "/qr/") {
		return strings.TrimPrefix(u.Path, "/qr/")
	}
	if strings.Contains(qr, "/") {
		return ""
	}
	return qr
}

func isQR(t *Trade) bool { return t.product() == ProductPrecreate || t.product() == ProductNative }

func defaultBuyer(provider string) string {
	if provider == ProviderAlipay {
		return "2088" + randDigits(12)
	}
	return "o" + randAlnum(27)
}

// scanLocked makes an Alipay trade exist at the gateway, as a real scan or login does.
func (e *Emulator) scanLocked(t *Trade, buyerID string) {
	t.Scanned = true
	if buyerID != "" {
		t.BuyerID = buyerID
	}
	if t.BuyerID == "" {
		t.BuyerID = defaultBuyer(t.Provider)
	}
}

// payRequest is the body of POST /sandbox/pay; exactly one of QRCode, PayURL, PrepayID.
type payRequest struct {
	QRCode   string `json:"qrCode"`
	PayURL   string `json:"payUrl"`
	PrepayID string `json:"prepayId"`
	BuyerID  string `json:"buyerId"`
	jsapiParams
}

// jsapiParams are what WeixinJSBridge getBrandWCPayRequest receives (gopay PaySignOfJSAPI).
type jsapiParams struct {
	AppID     string `json:"appId"`
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
}

// paidAnswer is the trade after a successful pay, and where a browser would go next.
type paidAnswer struct {
	Trade
	ReturnURL string `json:"returnUrl,omitempty"` // Alipay page/WAP: return_url with the signed sync params
}

func (e *Emulator) pay(w http.ResponseWriter, r *http.Request) {
	var in payRequest
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in)
	set := 0
	for _, s := range []string{in.QRCode, in.PayURL, in.PrepayID} {
		if s != "" {
			set++
		}
	}
	if err != nil || set != 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be one of {"qrCode": "<url>"}, {"payUrl": "<url>"}, ` +
			`{"prepayId": "...", "appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} (optional "buyerId")`})
		return
	}
	var t *Trade
	switch {
	case in.PayURL != "":
		var status int
		var msg string
		if t, status, msg = e.tradeOfPayURL(in.PayURL); t == nil {
			writeJSON(w, status, map[string]string{"error": msg})
			return
		}
	case in.PrepayID != "":
		if status, msg := e.checkPaySign(in.PrepayID, in.jsapiParams); msg != "" {
			writeJSON(w, status, map[string]string{"error": "get_brand_wcpay_request:fail " + msg})
			return
		}
	}
	e.mu.Lock()
	switch {
	case in.QRCode != "":
		if t = e.st.byToken(tokenFromQR(in.QRCode)); t != nil && !isQR(t) {
			t = nil // a cashier's token is no QR code
		}
	case in.PrepayID != "":
		t, _ = e.st.byPrepay(in.PrepayID)
	}
	if t == nil {
		e.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown qr code, payUrl or prepay_id"})
		return
	}
	status, msg := e.payTradeLocked(t, in.BuyerID)
	snap := t.clone()
	e.mu.Unlock()
	if status != http.StatusOK {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	a := paidAnswer{Trade: snap}
	if snap.Provider == ProviderAlipay {
		a.ReturnURL = e.alipayReturnURL(snap)
	}
	writeJSON(w, http.StatusOK, a)
}

// tradeOfPayURL opens the cashier a payUrl names (any host): an Alipay page/WAP gateway URL or a
// WeChat h5_url. It answers an HTTP status and message when the URL is refused.
func (e *Emulator) tradeOfPayURL(raw string) (*Trade, int, string) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, http.StatusBadRequest, "payUrl is not a URL"
	}
	switch {
	case strings.HasSuffix(u.Path, "/gateway.do"):
		params := map[string]string{}
		for k, v := range u.Query() {
			params[k] = v[0]
		}
		product, ok := alipayPageMethods[params["method"]]
		if !ok {
			return nil, http.StatusBadRequest, "payUrl names method " + params["method"] + ", not alipay.trade.page.pay or alipay.trade.wap.pay"
		}
		token, failure := e.openAlipayCashier(params, product)
		if failure != nil {
			return nil, http.StatusBadRequest, failure.SubCode + " " + failure.SubMsg
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.st.byToken(token), 0, ""
	case strings.HasSuffix(u.Path, "/h5/checkmweb"):
		e.mu.Lock()
		defer e.mu.Unlock()
		t, status, msg := e.h5TradeLocked(u.Query().Get("prepay_id"))
		return t, status, msg
	}
	return nil, http.StatusBadRequest, "payUrl is neither an Alipay page/WAP pay URL nor a WeChat h5_url"
}

// payTradeLocked is the buyer paying t: it answers 200, or 409 (paid, closed, expired).
func (e *Emulator) payTradeLocked(t *Trade, buyerID string) (int, string) {
	e.expireLocked(t)
	switch t.State {
	case StatePaid:
		return http.StatusConflict, "trade already paid"
	case StateClosed:
		return http.StatusConflict, "trade closed (" + t.CloseNote + ")"
	}
	e.scanLocked(t, buyerID)
	if d := e.faults.PaidAmountDeltaFen; d != 0 && t.AmountFen+d > 0 {
		t.AmountFen += d
		e.faults.PaidAmountDeltaFen = 0
	}
	t.State, t.PaidAt = StatePaid, e.now()
	e.armNotifyLocked(t)
	e.changedLocked(t)
	e.log.Info("trade paid", "provider", t.Provider, "product", t.product(), "out_trade_no", t.OutTradeNo,
		"amount_fen", t.AmountFen, "notify_dropped", t.Notify.Dropped, "notify_duplicate", t.Notify.Duplicate)
	e.startNotifyLocked(payRef(t))
	return http.StatusOK, ""
}

var qrTemplate = template.Must(template.New("qr").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>paysuite sandbox · {{.Provider}}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto;text-align:center}
button{font-size:1.3em;padding:.5em 2em}</style></head><body>
<h2>{{if eq .Provider "alipay"}}支付宝 Alipay{{else}}微信支付 WeChat Pay{{end}} (sandbox)</h2>
<p>{{.Subject}}</p><p style="font-size:2em">¥ {{.Yuan}}</p>
<p id="state">{{.State}}</p>
{{if eq .State "NOTPAY"}}<button id="pay">Pay</button>{{end}}
<script>
const b = document.getElementById("pay");
if (b) b.onclick = async () => {
  const r = await fetch("/sandbox/pay", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({qrCode: location.href})});
  const j = await r.json();
  document.getElementById("state").textContent = r.ok ? "PAID ✔" : (j.error || r.status);
  b.remove();
};
</script></body></html>`))

func (e *Emulator) qrPage(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	t := e.st.byToken(r.PathValue("token"))
	if t == nil || !isQR(t) {
		e.mu.Unlock()
		http.Error(w, "unknown qr code", http.StatusNotFound)
		return
	}
	e.expireLocked(t)
	if t.State == StateNotPaid && !t.Scanned {
		e.scanLocked(t, "")
		e.changedLocked(t)
	}
	data := struct{ Provider, Subject, Yuan, State string }{t.Provider, t.Subject, yuan(t.AmountFen), t.State}
	e.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = qrTemplate.Execute(w, data)
}
