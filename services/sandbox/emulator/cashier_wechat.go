package emulator

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// The WeChat buyer (services/sandbox/README.md §2). H5: the h5_url opens the sandbox's mobile cashier (valid 5
// minutes; &redirect_url= is where the browser goes after paying, without any parameters, as
// WeChat does). JSAPI: POST /sandbox/pay {"prepayId", ...jsapi params} plays WeixinJSBridge
// getBrandWCPayRequest, which checks paySign (merchant key over the four lines) before paying.

const (
	jsapiPrepayTTL = 2 * time.Hour
	h5URLTTL       = 5 * time.Minute
)

var timeStampPattern = regexp.MustCompile(`^[0-9]{10}$`)

// checkPaySign is the WeChat client's check of the JSAPI parameters; it answers a status and a
// message when they are refused.
func (e *Emulator) checkPaySign(prepayID string, p jsapiParams) (int, string) {
	e.mu.Lock()
	t, pp := e.st.byPrepay(prepayID)
	var appID, product string
	var expires time.Time
	if t != nil {
		appID, product, expires = t.AppID, t.product(), pp.ExpiresAt
	}
	e.mu.Unlock()
	switch {
	case t == nil:
		return http.StatusNotFound, "unknown prepay_id"
	case product != ProductJSAPI:
		return http.StatusBadRequest, "prepay_id is not a JSAPI prepay_id"
	case !e.now().Before(expires):
		return http.StatusBadRequest, "prepay_id expired (valid 2 hours): order again for a fresh one"
	case p.Package != "prepay_id="+prepayID:
		return http.StatusBadRequest, `package must be "prepay_id=` + prepayID + `"`
	case p.AppID != appID:
		return http.StatusBadRequest, "appId is not the appid of the prepay"
	case p.SignType != "RSA":
		return http.StatusBadRequest, `signType must be "RSA"`
	case !timeStampPattern.MatchString(p.TimeStamp):
		return http.StatusBadRequest, "timeStamp must be 10 digits (seconds)"
	case p.NonceStr == "" || len(p.NonceStr) > 32:
		return http.StatusBadRequest, "nonceStr must be 1 to 32 characters"
	}
	sig, err := base64.StdEncoding.DecodeString(p.PaySign)
	digest := sha256.Sum256([]byte(p.AppID + "\n" + p.TimeStamp + "\n" + p.NonceStr + "\n" + p.Package + "\n"))
	if err != nil || rsa.VerifyPKCS1v15(e.keys.merchantPublic, crypto.SHA256, digest[:], sig) != nil {
		return http.StatusBadRequest, "支付验证签名失败: paySign does not verify with the merchant's key over appId, timeStamp, nonceStr and package"
	}
	return 0, ""
}

func (e *Emulator) h5URL(prepayID string) string {
	return e.cfg.PublicURL + "/h5/checkmweb?prepay_id=" + prepayID + "&package=" + randDigits(10)
}

// h5TradeLocked finds the trade of an h5_url's prepay_id while the URL is valid.
func (e *Emulator) h5TradeLocked(prepayID string) (*Trade, int, string) {
	t, pp := e.st.byPrepay(prepayID)
	switch {
	case t == nil:
		return nil, http.StatusNotFound, "unknown prepay_id"
	case t.product() != ProductH5:
		return nil, http.StatusBadRequest, "prepay_id is not an H5 prepay"
	case !e.now().Before(pp.ExpiresAt):
		return nil, http.StatusBadRequest, "h5_url expired (valid 5 minutes): order again for a fresh one"
	}
	return t, 0, ""
}

type h5View struct {
	PrepayID, RedirectURL, Subject, Yuan, State, Error string
}

func (e *Emulator) wechatH5Page(w http.ResponseWriter, r *http.Request) {
	e.renderH5(w, r.URL.Query().Get("prepay_id"), r.URL.Query().Get("redirect_url"), "")
}

// wechatH5Pay: the buyer pays in the H5 cashier; the browser then goes to redirect_url.
func (e *Emulator) wechatH5Pay(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		renderCashierError(w, http.StatusBadRequest, "PARAM_ERROR", "unreadable form")
		return
	}
	prepayID, redirect := r.PostForm.Get("prepay_id"), r.PostForm.Get("redirect_url")
	e.mu.Lock()
	t, status, msg := e.h5TradeLocked(prepayID)
	if t != nil {
		status, msg = e.payTradeLocked(t, "")
	}
	e.mu.Unlock()
	switch {
	case t == nil:
		renderCashierError(w, status, "INVALID_REQUEST", msg)
	case status != http.StatusOK:
		e.renderH5(w, prepayID, redirect, msg)
	case redirect != "":
		http.Redirect(w, r, redirect, http.StatusSeeOther)
	default:
		e.renderH5(w, prepayID, "", "")
	}
}

func (e *Emulator) renderH5(w http.ResponseWriter, prepayID, redirect, problem string) {
	if u, err := url.Parse(redirect); redirect != "" && (err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
		renderCashierError(w, http.StatusBadRequest, "PARAM_ERROR", "redirect_url must be an http(s) URL")
		return
	}
	e.mu.Lock()
	t, status, msg := e.h5TradeLocked(prepayID)
	if t == nil {
		e.mu.Unlock()
		renderCashierError(w, status, "INVALID_REQUEST", msg)
		return
	}
	e.expireLocked(t)
	v := h5View{PrepayID: prepayID, RedirectURL: redirect, Subject: t.Subject, Yuan: yuan(t.AmountFen),
		State: wechatView(t, e.now()).TradeState, Error: problem}
	e.mu.Unlock()
	renderPage(w, h5Template, v, problem)
}

var h5Template = template.Must(template.New("h5").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>微信支付 (sandbox)</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto;text-align:center}
button{font-size:1.2em;padding:.5em 2em}</style></head><body>
<h2>微信支付 WeChat Pay H5 (sandbox)</h2>
<p id="subject">{{.Subject}}</p><p id="amount" style="font-size:2em">¥ {{.Yuan}}</p>
<p id="state" class="{{.State}}">{{.State}}</p>
{{if .Error}}<p id="error" style="color:#c00">{{.Error}}</p>{{end}}
{{if eq .State "NOTPAY"}}<form method="post" action="/h5/pay">
<input type="hidden" name="prepay_id" value="{{.PrepayID}}"><input type="hidden" name="redirect_url" value="{{.RedirectURL}}">
<button id="pay">立即支付 Pay</button></form>{{end}}
</body></html>`))
