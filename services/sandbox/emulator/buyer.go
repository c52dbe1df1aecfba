package emulator

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The buyer's side. The QR code of a trade is a URL on the sandbox with an unguessable token:
// opening it is "scanning". POST /sandbox/pay {"qrCode"} pays.

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

type payRequest struct {
	QRCode  string `json:"qrCode"`
	BuyerID string `json:"buyerId"`
}

func (e *Emulator) pay(w http.ResponseWriter, r *http.Request) {
	var in payRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil || in.QRCode == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"qrCode": "<url>", "buyerId": optional}`})
		return
	}
	e.mu.Lock()
	t := e.st.byToken(tokenFromQR(in.QRCode))
	if t == nil || !isQR(t) {
		e.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown qr code"})
		return
	}
	status, msg := e.payTradeLocked(t, in.BuyerID)
	snap := t.clone()
	e.mu.Unlock()
	if status != http.StatusOK {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	writeJSON(w, http.StatusOK, snap)
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
